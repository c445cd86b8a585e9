/**
 * Every label and annotation metalpool reads or writes on other people's objects, in one place.
 * Labels are what selectors and the claim guard use; annotations carry detail for humans.
 */
export const LABEL = {
  /** The claim: the UID of the BaremetalPool that owns this Hardware. Exclusive by construction. */
  poolUID: "metalpool.io/pool-uid",
  /** The claiming pool's name, for humans and kubectl selectors. */
  pool: "metalpool.io/pool",
  /** Hardware taken out of service after repeated failures; never claimed until a person removes it. */
  quarantined: "metalpool.io/quarantined",
  /** Set by discovery on Hardware it created. */
  discovered: "metalpool.io/discovered",
  /** A discovered server is eligible only with approved=true (set by a person or an auto-approve rule). */
  approved: "metalpool.io/approved",
  /**
   * On discovered Hardware: "pending" while nobody approved it (counted against the pending cap); "vouched"
   * once the operator approved it because a BMC the cluster knows reports its MAC or UUID.
   */
  approval: "metalpool.io/approval",
  /** On MachineDeployments, Workflows and bmc Jobs: which Hardware they are for. */
  hardware: "metalpool.io/hardware",
  /** On Workflows: the provisioning attempt (1, 2, …) or "wipe". */
  attempt: "metalpool.io/attempt",
  purpose: "metalpool.io/purpose",
  /** Inventory facts written from the BMC, matched by pool requirements. */
  cpus: "metalpool.io/cpus",
  memoryGiB: "metalpool.io/memory-gib",
  disks: "metalpool.io/disks",
  diskMinGiB: "metalpool.io/disk-min-gib",
  arch: "metalpool.io/arch",
  uefi: "metalpool.io/uefi",
  /** machine-controller labels the Workflows it creates with the Hardware name. */
  mcHardwareRef: "app.kubernetes.io/hardware-reference",
} as const;

export const ANNOTATION = {
  poolNamespace: "metalpool.io/pool-namespace",
  claimedAt: "metalpool.io/claimed-at",
  quarantineReason: "metalpool.io/quarantine-reason",
  /** The pool (UID) that quarantined the server: its power-off Job is explained while it is pending. */
  quarantinedBy: "metalpool.io/quarantined-by",
  /** A person marks a member as the preferred victim on scale-down. */
  deletePreferred: "metalpool.io/delete-preferred",
  /** Where a member's MachineDeployment lives (namespace/name), for the way back from Hardware. */
  machineDeployment: "metalpool.io/machine-deployment",
  /** Netboot flags before the claim, restored on release. */
  netbootBefore: "metalpool.io/netboot-before",
  inventory: "metalpool.io/inventory",
  /** A BMC for Hardware without a bmc.tinkerbell.org Machine: its Redfish URL, credential Secret, system. */
  bmcEndpoint: "metalpool.io/bmc-endpoint",
  bmcSecret: "metalpool.io/bmc-secret",
  bmcSystem: "metalpool.io/bmc-system",
  /** Discovery's record of a client: what its firmware said and when it was seen. */
  vendorClass: "metalpool.io/vendor-class",
  userClass: "metalpool.io/user-class",
  uuid: "metalpool.io/uuid",
  relay: "metalpool.io/relay",
  firstSeen: "metalpool.io/first-seen",
  lastSeen: "metalpool.io/last-seen",
  /** On vouched Hardware: the bmc.tinkerbell.org Machine (same namespace) whose BMC reports this server. */
  vouchedBy: "metalpool.io/vouched-by",
  /** Chosen for scale-down: the member is being deprovisioned and released; it never goes back. */
  releasing: "metalpool.io/releasing",
  /** Provisioning attempts so far, where no Workflow records them (a failure without one, or machine-controller mode). */
  attempts: "metalpool.io/attempts",
  /** Why the last attempt failed, where no Workflow shows it. */
  lastError: "metalpool.io/last-error",
  /** machine-controller mode: when the last attempt failed, for the retry backoff. */
  lastFailure: "metalpool.io/last-failure",
  /** On Workflows: when metalpool asked the BMC for the one-time PXE boot of this attempt. */
  powerRequested: "metalpool.io/power-requested",
  /** On Workflows: BMC power requests for this attempt that failed, and when the last one did (for the backoff). */
  powerFailures: "metalpool.io/power-failures",
  powerFailedAt: "metalpool.io/power-failed-at",
  /** On a releasing Hardware: when metalpool asked its BMC to power it off (recorded before asking). */
  powerOffRequested: "metalpool.io/power-off-requested",
  /**
   * On a releasing Hardware: when the power-off was seen done (Redfish at once; a rufio Job once Completed).
   * The claim is dropped only after this, so a power-off Job never runs on a server that is free by then.
   */
  poweredOff: "metalpool.io/powered-off",
  /** On a releasing Hardware: power-off requests that failed, and when the last one did. */
  powerOffFailures: "metalpool.io/power-off-failures",
  powerOffFailedAt: "metalpool.io/power-off-failed-at",
} as const;

export const FINALIZER = "metalpool.io/release-hardware";
export const FIELD_MANAGER = "metalpool-operator";
