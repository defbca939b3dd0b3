package sim

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The people of the demo world. Some causes are in code nobody but its authors can change: gkedoctor
// can only advise, and the operator says when the change is made (f in the checklist, `gkedoctor fix
// ADVICE-ID --done`). In the demo nobody else is there to make it, so the world plays the developers
// and deploys the change the advice describes (fixes.Deps.CarryOut). The check then runs again and
// judges what is really deployed.

// EnvManagerFixedImage is environment-manager's release with the advice of websocket-handshake in it:
// its stream() calls go through a dedicated ApiClient.
const EnvManagerFixedImage = "europe-west1-docker.pkg.dev/dev-orchestra/agents/environment-manager:1.4.3"

// CarryOut carries out the advice with id adviceID the way the demo world's developers would. Advice
// the world has nobody for is left to the operator (an empty answer, no error).
func (w *World) CarryOut(ctx context.Context, adviceID string) (string, error) {
	if strings.HasPrefix(adviceID, "advice/stream-dedicated-apiclient/") && strings.HasSuffix(adviceID, "/default/environment-manager") {
		return w.deployEnvManagerFix(ctx)
	}
	if did, ok := w.networkTeamCarryOut(adviceID); ok { // seed_sharedvpc.go
		return did, nil
	}
	return "", nil
}

// deployEnvManagerFix rolls environment-manager out with EnvManagerFixedImage and waits until only its
// new pods run.
func (w *World) deployEnvManagerFix(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	deploys := w.kube.rw.AppsV1().Deployments("default")
	for attempt := 0; ; attempt++ {
		d, err := deploys.Get(ctx, "environment-manager", metav1.GetOptions{})
		if err != nil {
			return "", fmt.Errorf("the developers could not read deployment/environment-manager: %w", err)
		}
		if len(d.Spec.Template.Spec.Containers) == 0 {
			return "", fmt.Errorf("deployment/environment-manager has no container to update")
		}
		if d.Spec.Template.Spec.Containers[0].Image == EnvManagerFixedImage {
			break
		}
		next := d.DeepCopy()
		next.Spec.Template.Spec.Containers[0].Image = EnvManagerFixedImage
		if _, err = deploys.Update(ctx, next, metav1.UpdateOptions{}); err == nil {
			break
		} else if attempt >= 2 {
			return "", fmt.Errorf("the developers could not deploy %s: %w", EnvManagerFixedImage, err)
		}
	}
	w.kickKube()
	for {
		pods, err := w.kube.rw.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=environment-manager"})
		if err == nil {
			fresh, stale := 0, 0
			for _, p := range pods.Items {
				switch {
				case p.DeletionTimestamp != nil:
				case len(p.Spec.Containers) > 0 && p.Spec.Containers[0].Image == EnvManagerFixedImage && p.Status.Phase == corev1.PodRunning:
					fresh++
				default:
					stale++
				}
			}
			if fresh > 0 && stale == 0 {
				return "environment-manager's developers deployed 1.4.3 (stream() on a dedicated ApiClient; simulated by the demo world)", nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("environment-manager 1.4.3 did not finish rolling out: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
