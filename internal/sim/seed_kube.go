package sim

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// demoCA is the (placeholder) cluster CA bundle in kube-root-ca.crt and the token Secret.
const demoCA = "-----BEGIN CERTIFICATE-----\nMIIELTCCApWgAwIBAgIRAJ1Xs3nZ0ZCd8ZLf0c2RmUwwDQYJKoZIhvcNAQELBQAw\nLzEtMCsGA1UEAxMkZGV2LW9yY2hlc3RyYS1jbHVzdGVyLWRlbW8tY2EtLS0tLS0w\n-----END CERTIFICATE-----\n"

type seeder struct {
	now  time.Time
	objs []runtime.Object
}

func (s *seeder) meta(ns, name string, age time.Duration, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(newUID()), Labels: labels,
		CreationTimestamp: metav1.NewTime(s.now.Add(-age).Truncate(time.Second))}
}

func (s *seeder) add(o ...runtime.Object) { s.objs = append(s.objs, o...) }

// seedKube returns the cluster's objects and the legacy token in orchestrai-sa's Secret.
func seedKube() ([]runtime.Object, string, error) {
	s := &seeder{now: time.Now()}
	const day = 24 * time.Hour
	clusterAge := 412 * day

	for _, ns := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		m := s.meta("", ns, clusterAge, map[string]string{"kubernetes.io/metadata.name": ns})
		s.add(&corev1.Namespace{ObjectMeta: m, Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"kubernetes"}},
			Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}})
		s.add(&corev1.ConfigMap{ObjectMeta: s.meta(ns, "kube-root-ca.crt", clusterAge, nil), Data: map[string]string{"ca.crt": demoCA}})
		if ns != "kube-node-lease" && ns != "kube-public" {
			s.add(&corev1.ServiceAccount{ObjectMeta: s.meta(ns, "default", clusterAge, nil)})
		}
	}
	for _, n := range nodes {
		s.add(s.node(n, 9*day))
	}

	// Services. ClusterIPs from the seed; kubernetes and kube-dns at their usual offsets.
	s.add(&corev1.Service{ObjectMeta: s.meta("default", "kubernetes", clusterAge, map[string]string{"component": "apiserver", "provider": "kubernetes"}),
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: KubernetesIP, ClusterIPs: []string{KubernetesIP},
			Ports:           []corev1.ServicePort{{Name: "https", Protocol: corev1.ProtocolTCP, Port: 443, TargetPort: intstr.FromInt32(443)}},
			SessionAffinity: corev1.ServiceAffinityNone, IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol}, IPFamilyPolicy: ptr(corev1.IPFamilyPolicySingleStack)}})
	s.add(&discoveryv1.EndpointSlice{ObjectMeta: s.meta("default", "kubernetes", clusterAge,
		map[string]string{discoveryv1.LabelServiceName: "kubernetes", discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}),
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{APIPrivateEndpoint}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("https"), Protocol: ptr(corev1.ProtocolTCP), Port: ptr(int32(443))}}})
	s.add(clusterIPService(s.meta("kube-system", "kube-dns", clusterAge, map[string]string{"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true",
		"kubernetes.io/name": "KubeDNS", "addonmanager.kubernetes.io/mode": "Reconcile"}), KubeDNSIP, map[string]string{"k8s-app": "kube-dns"},
		corev1.ServicePort{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53, TargetPort: intstr.FromInt32(53)},
		corev1.ServicePort{Name: "dns-tcp", Protocol: corev1.ProtocolTCP, Port: 53, TargetPort: intstr.FromInt32(53)}))
	for _, app := range []struct{ name, ip string }{{"development-agent", DevAgentIP}, {"environment-manager", EnvManagerIP}} {
		s.add(clusterIPService(s.meta("default", app.name, 35*day, map[string]string{"app": app.name}), app.ip, map[string]string{"app": app.name},
			corev1.ServicePort{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8080)}))
	}

	// Workloads.
	s.deployment("default", "development-agent", "6d9f7b8c5", 35*day, map[string]string{"app": "development-agent"}, "",
		corev1.Container{Name: "development-agent", Image: "europe-west1-docker.pkg.dev/dev-orchestra/agents/development-agent:1.4.2",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
			Env: []corev1.EnvVar{{Name: "AGENT_PUBLIC_URL", Value: "http://development-agent.default.svc.cluster.local:80"},
				{Name: "ENV_MANAGER_URL", Value: "http://environment-manager.default.svc.cluster.local:80"}}},
		nil, []podFact{{devAgentPod, node0, "172.16.0.12"}})
	s.deployment("default", "environment-manager", "7c4d9e6f8", 35*day, map[string]string{"app": "environment-manager"}, ServiceAccount,
		corev1.Container{Name: "environment-manager", Image: "europe-west1-docker.pkg.dev/dev-orchestra/agents/environment-manager:1.4.2",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
			Env: []corev1.EnvVar{{Name: "DEV_AGENT_URL", Value: "http://development-agent.default.svc.cluster.local:80"},
				{Name: "KUBERNETES_CLIENT", Value: "python kubernetes==29.0.0"}},
			VolumeMounts: []corev1.VolumeMount{{Name: TokenSecret, MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true}}},
		[]corev1.Volume{{Name: TokenSecret, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: TokenSecret, DefaultMode: ptr(int32(420))}}}},
		[]podFact{{envManagerPod, node1, "172.16.1.9"}})
	s.deployment("kube-system", "kube-dns", "5b8c6d7f9", clusterAge, map[string]string{"k8s-app": "kube-dns"}, "kube-dns",
		corev1.Container{Name: "kubedns", Image: "gke.gcr.io/k8s-dns-kube-dns:1.26.4-gke.1",
			Ports: []corev1.ContainerPort{{Name: "dns-local", ContainerPort: 10053, Protocol: corev1.ProtocolUDP}, {Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
				{Name: "dns-tcp", ContainerPort: 53, Protocol: corev1.ProtocolTCP}, {Name: "metrics", ContainerPort: 10055, Protocol: corev1.ProtocolTCP}}},
		nil, []podFact{{"kube-dns-5b8c6d7f9-k2x7p", node0, "172.16.0.5"}, {"kube-dns-5b8c6d7f9-r4t9w", node1, "172.16.1.4"}})
	s.add(&corev1.ServiceAccount{ObjectMeta: s.meta("kube-system", "kube-dns", clusterAge, map[string]string{"addonmanager.kubernetes.io/mode": "Reconcile"})})
	s.ipMasqAgent(clusterAge)

	// orchestrai-sa: re-created three days ago; its legacy token Secret was issued for the old one.
	sa := &corev1.ServiceAccount{ObjectMeta: s.meta("default", ServiceAccount, 3*day, map[string]string{"app.kubernetes.io/part-of": "orchestrai"})}
	sa.UID = SAUID
	s.add(sa)
	legacy, err := legacyTokenFor("default", ServiceAccount, OldSAUID, TokenSecret)
	if err != nil {
		return nil, "", fmt.Errorf("mint the legacy token: %w", err)
	}
	secMeta := s.meta("default", TokenSecret, 20*day, map[string]string{"kubernetes.io/legacy-token-last-used": s.now.Add(-1 * day).Format("2006-01-02")})
	secMeta.Annotations = map[string]string{corev1.ServiceAccountNameKey: ServiceAccount, corev1.ServiceAccountUIDKey: OldSAUID}
	s.add(&corev1.Secret{ObjectMeta: secMeta, Type: corev1.SecretTypeServiceAccountToken,
		Data: map[string][]byte{corev1.ServiceAccountTokenKey: []byte(legacy), "ca.crt": []byte(demoCA), "namespace": []byte("default")}})

	// RBAC: the built-in roles the checks read, and the seed's binding to cluster-admin.
	s.add(&rbacv1.ClusterRole{ObjectMeta: s.meta("", "cluster-admin", clusterAge, map[string]string{"kubernetes.io/bootstrapping": "rbac-defaults"}),
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}, {NonResourceURLs: []string{"*"}, Verbs: []string{"*"}}}})
	s.add(&rbacv1.ClusterRole{ObjectMeta: s.meta("", "view", clusterAge, map[string]string{"kubernetes.io/bootstrapping": "rbac-defaults"}),
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"", "apps", "discovery.k8s.io"}, Resources: []string{"pods", "services", "endpoints", "endpointslices",
			"configmaps", "deployments", "replicasets", "daemonsets", "events", "namespaces", "serviceaccounts"}, Verbs: []string{"get", "list", "watch"}}}})
	s.add(&rbacv1.ClusterRole{ObjectMeta: s.meta("", "system:basic-user", clusterAge, map[string]string{"kubernetes.io/bootstrapping": "rbac-defaults"}),
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"selfsubjectaccessreviews", "selfsubjectrulesreviews"}, Verbs: []string{"create"}},
			{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"selfsubjectreviews"}, Verbs: []string{"create"}}}})
	s.add(&rbacv1.ClusterRoleBinding{ObjectMeta: s.meta("", "system:basic-user", clusterAge, map[string]string{"kubernetes.io/bootstrapping": "rbac-defaults"}),
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:basic-user"},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "system:authenticated"}}})
	s.add(&rbacv1.ClusterRoleBinding{ObjectMeta: s.meta("", "orchestrai-sa-cluster-admin", 30*day, nil),
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: ServiceAccount, Namespace: "default"}}})
	s.seedKnativeKube() // seed 002, knative.go
	return s.objs, legacy, nil
}

func ptr[T any](v T) *T { return &v }

func clusterIPService(m metav1.ObjectMeta, ip string, selector map[string]string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: m, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: ip, ClusterIPs: []string{ip},
		Selector: selector, Ports: ports, SessionAffinity: corev1.ServiceAffinityNone,
		IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol}, IPFamilyPolicy: ptr(corev1.IPFamilyPolicySingleStack),
		InternalTrafficPolicy: ptr(corev1.ServiceInternalTrafficPolicyCluster)}}
}

func (s *seeder) node(n nodeFact, age time.Duration) *corev1.Node {
	m := s.meta("", n.name, age, map[string]string{
		"kubernetes.io/hostname": n.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
		"node.kubernetes.io/instance-type": "e2-standard-4", "topology.kubernetes.io/region": Region, "topology.kubernetes.io/zone": n.zone,
		"cloud.google.com/gke-nodepool": "default-pool", "cloud.google.com/gke-os-distribution": "cos", "cloud.google.com/machine-family": "e2",
		"cloud.google.com/gke-boot-disk": "pd-balanced", "cloud.google.com/gke-container-runtime": "containerd",
	})
	m.Annotations = map[string]string{"container.googleapis.com/instance_id": fmt.Sprintf("%d", 4_100_000_000_000_000_000+hashString(n.name)%100_000_000_000_000)}
	res := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16393424Ki"), corev1.ResourcePods: resource.MustParse("110")}
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3920m"), corev1.ResourceMemory: resource.MustParse("13219024Ki"), corev1.ResourcePods: resource.MustParse("110")}
	t := metav1.NewTime(s.now.Add(-age).Truncate(time.Second))
	return &corev1.Node{ObjectMeta: m,
		Spec: corev1.NodeSpec{PodCIDR: n.podCIDR, PodCIDRs: []string{n.podCIDR}, ProviderID: "gce://" + Project + "/" + n.zone + "/" + n.name},
		Status: corev1.NodeStatus{Capacity: res, Allocatable: alloc, Phase: "",
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status",
				LastHeartbeatTime: metav1.NewTime(s.now.Truncate(time.Second)), LastTransitionTime: t}},
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: n.ip}, {Type: corev1.NodeInternalDNS, Address: n.name + "." + n.zone + ".c." + Project + ".internal"},
				{Type: corev1.NodeHostName, Address: n.name + "." + n.zone + ".c." + Project + ".internal"}},
			NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v" + Version, KubeProxyVersion: "v" + Version, OperatingSystem: "linux", Architecture: "amd64",
				OSImage: "Container-Optimized OS from Google", KernelVersion: "6.6.93+", ContainerRuntimeVersion: "containerd://1.7.28"}}}
}

type podFact struct{ name, node, ip string }

func nodeIP(name string) string {
	for _, n := range nodes {
		if n.name == name {
			return n.ip
		}
	}
	return ""
}

// deployment adds a Deployment, its ReplicaSet and its running pods.
func (s *seeder) deployment(ns, name, hash string, age time.Duration, labels map[string]string, sa string, c corev1.Container, vols []corev1.Volume, pods []podFact) {
	replicas := int32(len(pods))
	tmplLabels := map[string]string{"pod-template-hash": hash}
	for k, v := range labels {
		tmplLabels[k] = v
	}
	c.ImagePullPolicy = corev1.PullIfNotPresent
	c.TerminationMessagePath, c.TerminationMessagePolicy = "/dev/termination-log", corev1.TerminationMessageReadFile
	c.Resources = corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}}
	podSpec := corev1.PodSpec{Containers: []corev1.Container{c}, Volumes: vols, RestartPolicy: corev1.RestartPolicyAlways,
		DNSPolicy: corev1.DNSClusterFirst, SchedulerName: "default-scheduler", TerminationGracePeriodSeconds: ptr(int64(30))}
	if sa != "" {
		podSpec.ServiceAccountName, podSpec.DeprecatedServiceAccount = sa, sa
	} else {
		podSpec.ServiceAccountName, podSpec.DeprecatedServiceAccount = "default", "default"
	}
	if len(vols) > 0 {
		podSpec.AutomountServiceAccountToken = ptr(false) // the legacy token Secret is mounted instead
	}
	dm := s.meta(ns, name, age, labels)
	dm.Annotations = map[string]string{"deployment.kubernetes.io/revision": "3"}
	dm.Generation = 3
	d := &appsv1.Deployment{ObjectMeta: dm, Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec},
		Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType}, RevisionHistoryLimit: ptr(int32(10)), ProgressDeadlineSeconds: ptr(int32(600))},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: replicas, UpdatedReplicas: replicas, ReadyReplicas: replicas, AvailableReplicas: replicas,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", Message: "Deployment has minimum availability."},
				{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable", Message: fmt.Sprintf("ReplicaSet %q has successfully progressed.", name+"-"+hash)}}}}
	rsm := s.meta(ns, name+"-"+hash, 6*24*time.Hour, tmplLabels)
	rsm.Annotations = map[string]string{"deployment.kubernetes.io/revision": "3", "deployment.kubernetes.io/desired-replicas": fmt.Sprint(replicas)}
	rsm.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: name, UID: dm.UID, Controller: ptr(true), BlockOwnerDeletion: ptr(true)}}
	rs := &appsv1.ReplicaSet{ObjectMeta: rsm, Spec: appsv1.ReplicaSetSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: tmplLabels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: tmplLabels}, Spec: podSpec}},
		Status: appsv1.ReplicaSetStatus{Replicas: replicas, FullyLabeledReplicas: replicas, ReadyReplicas: replicas, AvailableReplicas: replicas, ObservedGeneration: 1}}
	s.add(d, rs)
	for _, p := range pods {
		pm := s.meta(ns, p.name, 6*24*time.Hour, tmplLabels)
		pm.GenerateName = name + "-" + hash + "-"
		pm.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rsm.Name, UID: rsm.UID, Controller: ptr(true), BlockOwnerDeletion: ptr(true)}}
		spec := *podSpec.DeepCopy()
		spec.NodeName = p.node
		s.add(s.runningPod(pm, spec, p.ip, nodeIP(p.node)))
	}
}

func (s *seeder) runningPod(m metav1.ObjectMeta, spec corev1.PodSpec, ip, hostIP string) *corev1.Pod {
	start := m.CreationTimestamp
	var statuses []corev1.ContainerStatus
	for _, c := range spec.Containers {
		statuses = append(statuses, corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: c.Image + "@sha256:" + fmt.Sprintf("%064x", hashString(c.Image)),
			ContainerID: "containerd://" + fmt.Sprintf("%016x%016x", hashString(m.Name), hashString(c.Name)), Ready: true, Started: ptr(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: start}}})
	}
	cond := func(t corev1.PodConditionType) corev1.PodCondition {
		return corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: start}
	}
	return &corev1.Pod{ObjectMeta: m, Spec: spec, Status: corev1.PodStatus{Phase: corev1.PodRunning,
		Conditions: []corev1.PodCondition{cond(corev1.PodReadyToStartContainers), cond(corev1.PodInitialized), cond(corev1.PodReady), cond(corev1.ContainersReady), cond(corev1.PodScheduled)},
		HostIP:     hostIP, HostIPs: []corev1.HostIP{{IP: hostIP}}, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}, StartTime: &start,
		ContainerStatuses: statuses, QOSClass: corev1.PodQOSBurstable}}
}

// ipMasqAgent adds GKE's ip-masq-agent DaemonSet and its pods, with no ConfigMap (seed 004: the
// agent runs on its defaults, which keep pod IPs for all of 10.0.0.0/8).
func (s *seeder) ipMasqAgent(age time.Duration) {
	labels := map[string]string{"k8s-app": "ip-masq-agent"}
	c := corev1.Container{Name: "ip-masq-agent", Image: "gke.gcr.io/ip-masq-agent:v2.11.0-gke.12",
		Args:            []string{"--v=2", "--logtostderr=true", "--masq-chain=IP-MASQ", "--nomasq-all-reserved-ranges"},
		SecurityContext: &corev1.SecurityContext{Privileged: ptr(false), Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN", "NET_RAW"}}},
		VolumeMounts:    []corev1.VolumeMount{{Name: "config", MountPath: "/etc/config"}},
		Resources:       corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}}}
	spec := corev1.PodSpec{HostNetwork: true, Containers: []corev1.Container{c}, PriorityClassName: "system-node-critical",
		ServiceAccountName: "default", DeprecatedServiceAccount: "default", RestartPolicy: corev1.RestartPolicyAlways, DNSPolicy: corev1.DNSClusterFirst,
		Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "ip-masq-agent"}, Optional: ptr(true),
			Items: []corev1.KeyToPath{{Key: "config", Path: "ip-masq-agent"}}}}}}}
	dm := s.meta("kube-system", "ip-masq-agent", age, map[string]string{"k8s-app": "ip-masq-agent", "addonmanager.kubernetes.io/mode": "Reconcile"})
	dm.Generation = 1
	n := int32(len(nodes))
	ds := &appsv1.DaemonSet{ObjectMeta: dm, Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template:       corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType}},
		Status: appsv1.DaemonSetStatus{CurrentNumberScheduled: n, DesiredNumberScheduled: n, NumberReady: n, NumberAvailable: n, UpdatedNumberScheduled: n, ObservedGeneration: 1}}
	s.add(ds)
	for i, nd := range nodes {
		pm := s.meta("kube-system", "ip-masq-agent-"+[]string{"x8k2j", "p4m7n", "z2q9c"}[i], age, map[string]string{"k8s-app": "ip-masq-agent", "controller-revision-hash": "6c8f9d7b54", "pod-template-generation": "1"})
		pm.GenerateName = "ip-masq-agent-"
		pm.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "ip-masq-agent", UID: dm.UID, Controller: ptr(true), BlockOwnerDeletion: ptr(true)}}
		ps := *spec.DeepCopy()
		ps.NodeName = nd.name
		s.add(s.runningPod(pm, ps, nd.ip, nd.ip))
	}
}
