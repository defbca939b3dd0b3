// Package deps pins the module's direct dependencies until the packages that use them land.
package deps

import (
	_ "charm.land/bubbles/v2/help"
	_ "charm.land/bubbles/v2/key"
	_ "charm.land/bubbles/v2/spinner"
	_ "charm.land/bubbles/v2/textinput"
	_ "charm.land/bubbles/v2/viewport"
	_ "charm.land/bubbletea/v2"
	_ "charm.land/lipgloss/v2"
	_ "github.com/miekg/dns"
	_ "github.com/spf13/cobra"
	_ "golang.org/x/sync/singleflight"
	_ "google.golang.org/api/cloudresourcemanager/v1"
	_ "google.golang.org/api/compute/v1"
	_ "google.golang.org/api/container/v1"
	_ "google.golang.org/api/dns/v1"
	_ "google.golang.org/api/option"
	_ "google.golang.org/api/run/v2"
	_ "google.golang.org/api/vpcaccess/v1"
	_ "k8s.io/cli-runtime/pkg/genericclioptions"
	_ "k8s.io/client-go/kubernetes"
	_ "k8s.io/client-go/kubernetes/fake"
	_ "k8s.io/client-go/tools/clientcmd"
	_ "sigs.k8s.io/yaml"
)
