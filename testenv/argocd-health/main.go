// Command argocd-health runs Argo CD's resource customizations (health checks and resource
// actions, written in Lua) over Kubernetes objects with Argo CD's own code, so the test suite
// checks the scripts the chart ships exactly as an Argo CD of the pinned version runs them.
//
// The customizations are read from an argocd-cm ConfigMap manifest by Argo CD's settings
// manager (util/settings, over a fake clientset holding only that ConfigMap): the same parsing
// of resource.customizations.* keys, the same label selector (app.kubernetes.io/part-of: argocd),
// the same name (argocd-cm). Then, per object:
//
//	health   what the application controller does (controller/health.go): gitops-engine's
//	         health.GetResourceHealth with lua.ResourceHealthOverrides, in Argo CD's Lua sandbox
//	         (no string/math libraries unless resource.customizations.useOpenLibs.<kind> is true).
//	actions  what the API server lists (getAvailableActions): the discovery scripts' result.
//	run      what the API server does to run one (RunResourceActionV2): the action script's
//	         result, cleaned as Argo CD cleans it, and the JSON merge patch Argo CD would send.
//	script   a bare health script run by lua.VM.ExecuteHealthLua (the sandbox unless -open-libs).
//
// Objects are JSON or YAML files. The output is one JSON array, an entry per object, on stdout.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"

	"github.com/argoproj/argo-cd/gitops-engine/v3/pkg/health"
	jsonpatch "github.com/evanphx/json-patch"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"

	appv1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/argoproj/argo-cd/v3/util/lua"
	"github.com/argoproj/argo-cd/v3/util/settings"
)

const usage = `usage:
  argocd-health health  -argocd-cm FILE OBJECT...
  argocd-health actions -argocd-cm FILE OBJECT...
  argocd-health run     -argocd-cm FILE -action NAME OBJECT...
  argocd-health script  -lua FILE [-open-libs] OBJECT...`

type result struct {
	Object  string `json:"object"`
	Error   string `json:"error,omitempty"`
	Health  any    `json:"health,omitempty"`
	Actions any    `json:"actions,omitempty"`
	Results any    `json:"results,omitempty"`
}

type impacted struct {
	Operation string         `json:"operation"`
	Object    map[string]any `json:"object"`
	Patch     map[string]any `json:"patch,omitempty"`
}

func main() {
	if len(os.Args) < 2 {
		fail(usage)
	}
	mode := os.Args[1]
	flags := flag.NewFlagSet(mode, flag.ExitOnError)
	cmFile := flags.String("argocd-cm", "", "an argocd-cm ConfigMap manifest (YAML or JSON)")
	action := flags.String("action", "", "the action to run (run)")
	luaFile := flags.String("lua", "", "a bare health script (script)")
	openLibs := flags.Bool("open-libs", false, "open Lua's standard libraries (script)")
	_ = flags.Parse(os.Args[2:])
	if flags.NArg() == 0 {
		fail(usage)
	}

	var overrides map[string]appv1.ResourceOverride
	var script string
	switch mode {
	case "health", "actions", "run":
		if *cmFile == "" {
			fail(mode + " needs -argocd-cm")
		}
		var err error
		if overrides, err = loadOverrides(*cmFile); err != nil {
			fail(err.Error())
		}
		if mode == "run" && *action == "" {
			fail("run needs -action")
		}
	case "script":
		data, err := os.ReadFile(*luaFile)
		if err != nil {
			fail(err.Error())
		}
		script = string(data)
	default:
		fail(usage)
	}

	results := make([]result, 0, flags.NArg())
	for _, path := range flags.Args() {
		r := result{Object: path}
		obj, err := loadObject(path)
		if err == nil {
			switch mode {
			case "health":
				r.Health, err = health.GetResourceHealth(obj, lua.ResourceHealthOverrides(overrides))
			case "actions":
				r.Actions, err = availableActions(overrides, obj)
			case "run":
				r.Results, err = runAction(overrides, obj, *action)
			case "script":
				r.Health, err = lua.VM{UseOpenLibs: *openLibs}.ExecuteHealthLua(obj, script)
			}
		}
		if err != nil {
			r.Error = err.Error()
		}
		results = append(results, r)
	}
	out, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		fail(err.Error())
	}
	fmt.Println(string(out))
}

// loadOverrides reads the ConfigMap into a fake cluster and asks Argo CD's settings manager for
// the resource overrides, as the application controller and the API server do.
func loadOverrides(path string) (map[string]appv1.ResourceOverride, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cm corev1.ConfigMap
	if err := yaml.Unmarshal(data, &cm); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	namespace := cm.Namespace
	if namespace == "" {
		namespace = "argocd"
		cm.Namespace = namespace
	}
	mgr := settings.NewSettingsManager(context.Background(), fake.NewClientset(&cm), namespace)
	overrides, err := mgr.GetResourceOverrides()
	if err != nil {
		return nil, fmt.Errorf("argo cd could not read %s: %w", path, err)
	}
	return overrides, nil
}

func loadObject(path string) (*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, err
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(js); err != nil {
		return nil, err
	}
	return obj, nil
}

// availableActions is the API server's getAvailableActions (server/application/application.go).
func availableActions(overrides map[string]appv1.ResourceOverride, obj *unstructured.Unstructured) ([]appv1.ResourceAction, error) {
	vm := lua.VM{ResourceOverrides: overrides}
	scripts, err := vm.GetResourceActionDiscovery(obj)
	if err != nil {
		return nil, err
	}
	if len(scripts) == 0 {
		return []appv1.ResourceAction{}, nil
	}
	actions, err := vm.ExecuteResourceActionDiscovery(obj, scripts)
	if err != nil {
		return nil, err
	}
	sort.Slice(actions, func(i, j int) bool { return actions[i].Name < actions[j].Name })
	return actions, nil
}

// runAction is the Lua part of the API server's RunResourceActionV2, and the merge patch its
// patchResource computes from the live object and the action's result.
func runAction(overrides map[string]appv1.ResourceOverride, obj *unstructured.Unstructured, name string) ([]impacted, error) {
	live, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	vm := lua.VM{ResourceOverrides: overrides}
	action, err := vm.GetResourceAction(obj, name)
	if err != nil {
		return nil, err
	}
	objects, err := vm.ExecuteResourceAction(obj, action.ActionLua, nil)
	if err != nil {
		return nil, err
	}
	out := make([]impacted, 0, len(objects))
	for _, o := range objects {
		i := impacted{Operation: string(o.K8SOperation), Object: o.UnstructuredObj.Object}
		if o.K8SOperation == lua.PatchOperation {
			updated, err := json.Marshal(o.UnstructuredObj)
			if err != nil {
				return nil, err
			}
			diff, err := jsonpatch.CreateMergePatch(live, updated)
			if err != nil {
				return nil, err
			}
			if err := json.Unmarshal(diff, &i.Patch); err != nil {
				return nil, err
			}
		}
		out = append(out, i)
	}
	return out, nil
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, msg)
	os.Exit(2)
}
