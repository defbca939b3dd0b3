package sim

import (
	"context"
	"reflect"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

const endpointSliceController = "endpointslice-controller.k8s.io"

// endpointsController plays kube-controller-manager's EndpointSlice controller: every Service with a
// selector has one slice listing the pods it selects, ready or not, with the Service's ports resolved
// to the pods' container ports.
type endpointsController struct {
	w    *World
	loop *loop
}

func (c *endpointsController) reconcile(time.Time) time.Time {
	k := c.w.kube
	pods := k.pods()
	slices := k.endpointSlices("")
	ctx, cancel := context.WithTimeout(c.w.ctx, 10*time.Second)
	defer cancel()
	wanted := map[string]bool{} // ns/name of slices that should exist
	services := map[string]bool{}
	retry := false
	for _, svc := range k.services() {
		services[svc.Namespace+"/"+svc.Name] = true
		if len(svc.Spec.Selector) == 0 || svc.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		desired := desiredSlice(&svc, pods)
		wanted[svc.Namespace+"/"+desired.Name] = true
		var cur *discoveryv1.EndpointSlice
		for i := range slices {
			if slices[i].Namespace == svc.Namespace && slices[i].Name == desired.Name {
				cur = &slices[i]
			}
		}
		client := k.rw.DiscoveryV1().EndpointSlices(svc.Namespace)
		switch {
		case cur == nil:
			if _, err := client.Create(ctx, desired, metav1.CreateOptions{}); err != nil {
				retry = true
			}
		case !reflect.DeepEqual(cur.Endpoints, desired.Endpoints) || !reflect.DeepEqual(cur.Ports, desired.Ports):
			next := cur.DeepCopy()
			next.Endpoints, next.Ports = desired.Endpoints, desired.Ports
			if _, err := client.Update(ctx, next, metav1.UpdateOptions{}); err != nil {
				retry = true
			}
		}
	}
	for _, s := range slices {
		svc := s.Labels[discoveryv1.LabelServiceName]
		if s.Labels[discoveryv1.LabelManagedBy] != endpointSliceController || wanted[s.Namespace+"/"+s.Name] {
			continue
		}
		// Slices of Services without a selector are someone else's (the API server's for kubernetes).
		if services[s.Namespace+"/"+svc] && !hasSelector(k, s.Namespace, svc) {
			continue
		}
		if err := k.rw.DiscoveryV1().EndpointSlices(s.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{}); err != nil {
			retry = true
		}
	}
	if retry && c.w.ctx.Err() == nil {
		return time.Now().Add(50 * time.Millisecond)
	}
	return time.Time{}
}

func hasSelector(k *kubeSide, ns, name string) bool {
	svc, err := getT[*corev1.Service](k, gvrServices, ns, name)
	return err == nil && len(svc.Spec.Selector) > 0
}

// desiredSlice is the EndpointSlice the controller keeps for svc.
func desiredSlice(svc *corev1.Service, pods []corev1.Pod) *discoveryv1.EndpointSlice {
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	var picked []corev1.Pod
	for _, p := range pods {
		if p.Namespace == svc.Namespace && p.Status.PodIP != "" && p.DeletionTimestamp == nil &&
			p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && sel.Matches(labels.Set(p.Labels)) {
			picked = append(picked, p)
		}
	}
	sort.Slice(picked, func(i, j int) bool { return picked[i].Name < picked[j].Name })
	es := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: svc.Name + "-" + stableSuffix(string(svc.UID), 5), Namespace: svc.Namespace,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name, discoveryv1.LabelManagedBy: endpointSliceController},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: svc.Name, UID: svc.UID,
				Controller: ptr(true), BlockOwnerDeletion: ptr(true)}}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for _, sp := range svc.Spec.Ports {
		port := resolveTargetPort(sp, picked)
		if port == 0 {
			continue
		}
		name, proto := sp.Name, sp.Protocol
		es.Ports = append(es.Ports, discoveryv1.EndpointPort{Name: &name, Protocol: &proto, Port: ptr(port)})
	}
	for _, p := range picked {
		ready := podReady(&p)
		zone := ""
		for _, n := range nodes {
			if n.name == p.Spec.NodeName {
				zone = n.zone
			}
		}
		ep := discoveryv1.Endpoint{Addresses: []string{p.Status.PodIP},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr(ready), Serving: ptr(ready), Terminating: ptr(false)},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID}}
		if p.Spec.NodeName != "" {
			ep.NodeName = ptr(p.Spec.NodeName)
		}
		if zone != "" {
			ep.Zone = ptr(zone)
		}
		es.Endpoints = append(es.Endpoints, ep)
	}
	return es
}

// resolveTargetPort resolves a Service port's targetPort against the selected pods' containers.
func resolveTargetPort(sp corev1.ServicePort, pods []corev1.Pod) int32 {
	if sp.TargetPort.StrVal == "" {
		if sp.TargetPort.IntVal != 0 {
			return sp.TargetPort.IntVal
		}
		return sp.Port
	}
	for _, p := range pods {
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				proto := cp.Protocol
				if proto == "" {
					proto = corev1.ProtocolTCP
				}
				if cp.Name == sp.TargetPort.StrVal && proto == sp.Protocol {
					return cp.ContainerPort
				}
			}
		}
	}
	return 0
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
