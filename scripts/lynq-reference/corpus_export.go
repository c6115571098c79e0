// Copied by lynq-bridge's scripts/lynq-reference/build.sh into a throw-away checkout of Lynq
// (internal/controller/) so that the reference generator can call the controllers' own
// unexported rendering methods. This file is lynq-bridge's; it contains no Lynq code.
//
// Not part of lynq-bridge's build: it compiles only inside a Lynq module tree.

package controller

import (
	"context"
	"encoding/json"
	"fmt"

	lynqv1 "github.com/k8s-lynq/lynq/api/v1"
	"github.com/k8s-lynq/lynq/internal/datasource"
	"github.com/k8s-lynq/lynq/internal/template"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CorpusResource is one resource of a form rendered for one row, as the LynqNode controller
// hands it to the applier (or the error that stopped it, with the stage that raised it).
type CorpusResource struct {
	List   string                 `json:"list"`
	ID     string                 `json:"id"`
	Object map[string]interface{} `json:"object,omitempty"`
	Stage  string                 `json:"stage,omitempty"`
	Error  string                 `json:"error,omitempty"`
}

// corpusLists names the form's resource lists in the order the hub controller renders them.
func corpusLists(spec *lynqv1.LynqFormSpec) []struct {
	name  string
	items []lynqv1.TResource
} {
	return []struct {
		name  string
		items []lynqv1.TResource
	}{
		{"serviceAccounts", spec.ServiceAccounts}, {"deployments", spec.Deployments},
		{"statefulSets", spec.StatefulSets}, {"daemonSets", spec.DaemonSets},
		{"services", spec.Services}, {"ingresses", spec.Ingresses},
		{"configMaps", spec.ConfigMaps}, {"secrets", spec.Secrets},
		{"persistentVolumeClaims", spec.PersistentVolumeClaims}, {"jobs", spec.Jobs},
		{"cronJobs", spec.CronJobs}, {"podDisruptionBudgets", spec.PodDisruptionBudgets},
		{"networkPolicies", spec.NetworkPolicies},
		{"horizontalPodAutoscalers", spec.HorizontalPodAutoscalers},
		{"namespaces", spec.Namespaces}, {"manifests", spec.Manifests},
	}
}

// CorpusRenderNode renders every resource of form for row the way Lynq does: the hub controller
// renders nameTemplate, labelsTemplate and annotationsTemplate with the row's variables
// (createLynqNode), then the LynqNode controller rebuilds the variables from the node's
// annotations and renders the whole object (renderResource). nodeError is what makes the hub
// controller create no LynqNode at all for this row.
func CorpusRenderNode(form *lynqv1.LynqForm, namespace string, row datasource.NodeRow) (nodeError string, out []CorpusResource) {
	hub := &LynqHubReconciler{}
	node := &LynqNodeReconciler{}
	engine := template.NewEngine()

	vars := template.BuildVariables(row.UID, row.HostOrURL, row.Activate, row.Extra)
	vars["hubId"] = form.Spec.HubID
	vars["templateRef"] = form.Name
	if _, err := hub.renderAllTemplateResources(form, vars); err != nil {
		nodeError = err.Error()
	}

	extraJSON, err := json.Marshal(row.Extra)
	if err != nil {
		extraJSON = []byte("{}")
	}
	lynqNode := &lynqv1.LynqNode{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("%s-%s", row.UID, form.Name),
			Namespace: namespace,
			Labels:    map[string]string{"lynq.sh/hub": form.Spec.HubID, "lynq.sh/uid": row.UID},
			Annotations: map[string]string{
				"lynq.sh/hostOrUrl": row.HostOrURL,
				"lynq.sh/activate":  row.Activate,
				"lynq.sh/extra":     string(extraJSON),
				"lynq.sh/hubId":     form.Spec.HubID,
			},
		},
	}
	lynqNode.Spec.UID = row.UID
	lynqNode.Spec.TemplateRef = form.Name
	nodeVars, err := node.buildTemplateVariablesFromAnnotations(lynqNode)
	if err != nil {
		return fmt.Sprintf("node variables: %v", err), nil
	}

	for _, list := range corpusLists(&form.Spec) {
		for _, res := range list.items {
			item := CorpusResource{List: list.name, ID: res.ID}
			rendered, err := hub.renderResource(engine, res, vars)
			if err != nil {
				item.Stage, item.Error = "hub", err.Error()
				out = append(out, item)
				continue
			}
			obj, err := node.renderResource(context.Background(), engine, rendered, nodeVars, lynqNode)
			if err != nil {
				item.Stage, item.Error = "node", err.Error()
			} else {
				item.Object = obj.Object
			}
			out = append(out, item)
		}
	}
	return nodeError, out
}
