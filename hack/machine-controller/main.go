// Command machine-controller-standin runs Kubermatic machine-controller's own code where it can be built
// here, and a stand-in where it cannot (shared notes: machine-controller.md).
//
//   - UPSTREAM: the MachineDeployment and MachineSet controllers of k8c.io/machine-controller (pinned in
//     hack/versions.env), unchanged, on a controller-runtime manager.
//   - UPSTREAM: the `baremetal` cloud provider with its `tinkerbell` driver, called for Validate, Get,
//     Create and Cleanup exactly as machine-controller's Machine controller calls it.
//   - STAND-IN for machine-controller's Machine controller (pkg/controller/machine), which cannot be built
//     here (its provider registry imports a cloud SDK the module proxy does not serve). This loop does only
//     the steps that controller takes for a baremetal Machine: instance finalizers once the instance exists,
//     Create with the OSM bootstrap Secret's cloud-config once the revision matches, status.addresses and
//     providerID, a Node found by address becomes status.nodeRef, and on deletion Cleanup, then the Node.
//     No eviction, no volume clean-up, no node labels or taints, no join timeout.
//
// The Machine CRD has no status subresource: status is written with the object, as upstream does.
//
// It is a test tool (built by hack/build-machine-controller.sh, run by test/harness/machine-controller.ts).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	clusterv1alpha1 "k8c.io/machine-controller/pkg/apis/cluster/v1alpha1"
	cloudprovidererrors "k8c.io/machine-controller/pkg/cloudprovider/errors"
	"k8c.io/machine-controller/pkg/cloudprovider/provider/baremetal"
	cloudprovidertypes "k8c.io/machine-controller/pkg/cloudprovider/types"
	"k8c.io/machine-controller/pkg/cloudprovider/util"
	"k8c.io/machine-controller/pkg/controller/machinedeployment"
	"k8c.io/machine-controller/pkg/controller/machineset"
	controllerutil "k8c.io/machine-controller/pkg/controller/util"
	"k8c.io/machine-controller/pkg/providerconfig"
	providerconfigtypes "k8c.io/machine-controller/pkg/providerconfig/types"
	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	ctrlruntimeclient "sigs.k8s.io/controller-runtime/pkg/client"
	ctrlruntimelog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// The same names machine-controller v1.61 uses (pkg/controller/machine, pkg/bootstrap).
const (
	finalizerDeleteInstance = "machine-delete-finalizer"
	finalizerDeleteNode     = "machine-node-delete-finalizer"
	providerIDPattern       = "kubermatic://%s/%s"
	bootstrapSecretPattern  = "%s-%s-bootstrap-config"
	bootstrapRevision       = "k8c.io/machine-deployment-revision"
	// How soon to look again while waiting on something nothing here watches (a Secret, a Node).
	pollInterval = 2 * time.Second
)

func main() {
	// controller-runtime registers -kubeconfig itself: the cluster holding Machines (and Nodes).
	namespace := flag.String("namespace", "", "namespace of the MachineDeployments to act on")
	flag.Parse()
	kubeconfig := flag.Lookup("kubeconfig").Value.String()
	if kubeconfig == "" || *namespace == "" {
		fmt.Fprintln(os.Stderr, "usage: machine-controller-standin -kubeconfig FILE -namespace NS")
		os.Exit(2)
	}
	raw := zap.Must(zap.NewDevelopmentConfig().Build(zap.IncreaseLevel(zapcore.DebugLevel)))
	log := raw.Sugar()
	ctrlruntimelog.SetLogger(zapr.NewLogger(raw))
	if err := run(kubeconfig, *namespace, log); err != nil {
		log.Fatalw("machine-controller-standin stopped", zap.Error(err))
	}
}

func run(kubeconfig, namespace string, log *zap.SugaredLogger) error {
	if err := clusterv1alpha1.AddToScheme(scheme.Scheme); err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	mgr, err := manager.New(cfg, manager.Options{
		Scheme: scheme.Scheme,
		Cache: cache.Options{
			DefaultNamespaces: map[string]cache.Config{namespace: {}, util.CloudInitNamespace: {}},
		},
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		return err
	}
	if err := machinedeployment.Add(mgr, log); err != nil {
		return fmt.Errorf("upstream MachineDeployment controller: %w", err)
	}
	if err := machineset.Add(mgr, log); err != nil {
		return fmt.Errorf("upstream MachineSet controller: %w", err)
	}
	// Reads that must not wait for (or be limited by) the manager's cache: Secrets, Nodes, MachineSets.
	direct, err := ctrlruntimeclient.New(cfg, ctrlruntimeclient.Options{Scheme: scheme.Scheme})
	if err != nil {
		return err
	}
	r := &machineLoop{client: direct, log: log.Named("machine-standin")}
	if err := ctrl.NewControllerManagedBy(mgr).Named("machine-standin").For(&clusterv1alpha1.Machine{}).Complete(r); err != nil {
		return err
	}
	log.Infow("started", "namespace", namespace)
	return mgr.Start(ctrl.SetupSignalHandler())
}

type machineLoop struct {
	client ctrlruntimeclient.Client
	log    *zap.SugaredLogger
}

func (r *machineLoop) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	machine := &clusterv1alpha1.Machine{}
	if err := r.client.Get(ctx, req.NamespacedName, machine); err != nil {
		return reconcile.Result{}, ctrlruntimeclient.IgnoreNotFound(err)
	}
	log := r.log.With("machine", req.NamespacedName)
	if machine.Spec.Name == "" {
		machine.Spec.Name = machine.Name
	}
	prov := baremetal.New(providerconfig.NewConfigVarResolver(ctx, r.client))
	data := &cloudprovidertypes.ProviderData{Ctx: ctx, Client: r.client}
	if machine.DeletionTimestamp != nil {
		return r.delete(ctx, log, prov, data, machine)
	}
	if machine.Status.NodeRef != nil {
		return reconcile.Result{}, nil
	}
	inst, err := prov.Get(ctx, log, machine, data)
	if errors.Is(err, cloudprovidererrors.ErrInstanceNotFound) {
		return r.create(ctx, log, prov, data, machine)
	}
	if err != nil {
		return reconcile.Result{}, fmt.Errorf("get instance: %w", err)
	}
	return r.adopt(ctx, log, machine, inst.Addresses())
}

// create: the provider's Validate (machine-controller's webhook does this at admission), then Create with
// the bootstrap cloud-config operating-system-manager wrote for this MachineDeployment revision.
func (r *machineLoop) create(ctx context.Context, log *zap.SugaredLogger, prov cloudprovidertypes.Provider,
	data *cloudprovidertypes.ProviderData, machine *clusterv1alpha1.Machine) (reconcile.Result, error) {
	if err := prov.Validate(ctx, log, machine.Spec); err != nil {
		log.Errorw("invalid machine spec", zap.Error(err))
		return reconcile.Result{}, r.setError(ctx, machine, fmt.Sprintf("invalid machine spec: %v", err))
	}
	md, revision, err := controllerutil.GetMachineDeploymentNameAndRevisionForMachine(ctx, machine, r.client)
	if err != nil {
		return reconcile.Result{}, err
	}
	secret := &corev1.Secret{}
	name := fmt.Sprintf(bootstrapSecretPattern, md, machine.Namespace)
	if err := r.client.Get(ctx, types.NamespacedName{Namespace: util.CloudInitNamespace, Name: name}, secret); err != nil {
		log.Infow("bootstrap cloud-config not written yet", "secret", name)
		return reconcile.Result{RequeueAfter: pollInterval}, nil
	}
	if secret.Annotations[bootstrapRevision] != revision {
		log.Infow("bootstrap cloud-config is for another revision", "secret", name, "want", revision)
		return reconcile.Result{RequeueAfter: pollInterval}, nil
	}
	// As upstream's getOSMBootstrapUserdata: the Machine's name goes where OSM left a placeholder.
	userdata := strings.ReplaceAll(string(secret.Data["cloud-config"]), "<MACHINE_NAME>", machine.Spec.Name)
	if _, err := prov.Create(ctx, log, machine, data, userdata); err != nil {
		log.Errorw("create failed", zap.Error(err))
		return reconcile.Result{}, err
	}
	log.Info("created instance")
	return reconcile.Result{RequeueAfter: pollInterval}, nil
}

// adopt: finalizers, addresses and providerID on the Machine, then the Node with one of its addresses.
func (r *machineLoop) adopt(ctx context.Context, log *zap.SugaredLogger, machine *clusterv1alpha1.Machine,
	addresses map[string]corev1.NodeAddressType) (reconcile.Result, error) {
	if len(addresses) == 0 {
		return reconcile.Result{RequeueAfter: pollInterval}, nil
	}
	var machineAddresses []corev1.NodeAddress
	for address, kind := range addresses {
		if address != "" {
			machineAddresses = append(machineAddresses, corev1.NodeAddress{Address: address, Type: kind})
		}
	}
	sort.Slice(machineAddresses, func(i, j int) bool { return machineAddresses[i].Address < machineAddresses[j].Address })
	providerConfig, err := providerconfigtypes.GetConfig(machine.Spec.ProviderSpec)
	if err != nil {
		return reconcile.Result{}, err
	}
	providerID := fmt.Sprintf(providerIDPattern, providerConfig.CloudProvider, machine.UID)
	changed := false
	for _, f := range []string{finalizerDeleteInstance, finalizerDeleteNode} {
		if !slices.Contains(machine.Finalizers, f) {
			machine.Finalizers = append(machine.Finalizers, f)
			changed = true
		}
	}
	if machine.Spec.ProviderID == nil {
		machine.Spec.ProviderID = &providerID
		changed = true
	}
	if changed {
		if err := r.client.Update(ctx, machine); err != nil {
			return reconcile.Result{}, err
		}
	}
	if !slices.Equal(machine.Status.Addresses, machineAddresses) {
		machine.Status.Addresses = machineAddresses
		if err := r.client.Update(ctx, machine); err != nil {
			return reconcile.Result{}, err
		}
	}
	nodes := &corev1.NodeList{}
	if err := r.client.List(ctx, nodes); err != nil {
		return reconcile.Result{}, err
	}
	for i := range nodes.Items {
		node := &nodes.Items[i]
		for _, a := range node.Status.Addresses {
			if _, ok := addresses[a.Address]; !ok {
				continue
			}
			machine.Status.NodeRef = &corev1.ObjectReference{Kind: "Node", APIVersion: "v1", Name: node.Name, UID: node.UID}
			machine.Status.Versions = &clusterv1alpha1.MachineVersionInfo{Kubelet: node.Status.NodeInfo.KubeletVersion}
			if err := r.client.Update(ctx, machine); err != nil {
				return reconcile.Result{}, err
			}
			log.Infow("node joined", "node", node.Name)
			return reconcile.Result{}, nil
		}
	}
	return reconcile.Result{RequeueAfter: pollInterval}, nil
}

// delete: Cleanup at the provider while the instance finalizer is there, then the Node and its finalizer.
func (r *machineLoop) delete(ctx context.Context, log *zap.SugaredLogger, prov cloudprovidertypes.Provider,
	data *cloudprovidertypes.ProviderData, machine *clusterv1alpha1.Machine) (reconcile.Result, error) {
	if slices.Contains(machine.Finalizers, finalizerDeleteInstance) {
		gone, err := prov.Cleanup(ctx, log, machine, data)
		if err != nil {
			log.Errorw("cleanup failed", zap.Error(err))
			return reconcile.Result{}, err
		}
		if !gone {
			return reconcile.Result{RequeueAfter: pollInterval}, nil
		}
		machine.Finalizers = slices.DeleteFunc(machine.Finalizers, func(f string) bool { return f == finalizerDeleteInstance })
		if err := r.client.Update(ctx, machine); err != nil {
			return reconcile.Result{}, err
		}
		log.Info("instance cleaned up")
	}
	if !slices.Contains(machine.Finalizers, finalizerDeleteNode) {
		return reconcile.Result{}, nil
	}
	if ref := machine.Status.NodeRef; ref != nil {
		node := &corev1.Node{}
		node.Name = ref.Name
		if err := r.client.Delete(ctx, node); err != nil && !kerrors.IsNotFound(err) {
			return reconcile.Result{}, err
		}
	}
	machine.Finalizers = slices.DeleteFunc(machine.Finalizers, func(f string) bool { return f == finalizerDeleteNode })
	return reconcile.Result{}, r.client.Update(ctx, machine)
}

func (r *machineLoop) setError(ctx context.Context, machine *clusterv1alpha1.Machine, message string) error {
	machine.Status.ErrorMessage = &message
	return r.client.Update(ctx, machine)
}
