/**
 * Real PXE firmware in QEMU (TCG, no KVM needed), on a tap device of a test network: SeaBIOS with the iPXE
 * ROM (legacy BIOS) or OVMF (x86_64 UEFI). The VM has no disk, so the firmware PXE-boots and retries DHCP.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestNetwork } from "./netns.ts";
import { startProcess, type ManagedProcess } from "./process.ts";

export type Firmware = "bios-ipxe" | "uefi-ovmf";

export interface VmSpec {
  firmware: Firmware;
  mac: string;
  smbiosUuid: string;
  /** A tap device of `net` to use again (a VM powered on a second time); a new one otherwise. */
  tap?: string;
}

export function startVm(
  net: TestNetwork,
  vm: VmSpec,
): ManagedProcess & { tap: string; stopAndClean(): Promise<void> } {
  const tap = vm.tap ?? net.addTap();
  const dir = mkdtempSync(join(tmpdir(), "metalpool-vm-"));
  const nic =
    vm.firmware === "bios-ipxe"
      ? ["-device", `e1000,netdev=n0,mac=${vm.mac}`]
      : [
          "-bios",
          "/usr/share/OVMF/OVMF_CODE.fd",
          "-device",
          `virtio-net-pci,netdev=n0,mac=${vm.mac},romfile=`,
        ];
  const proc = startProcess(
    `qemu-${vm.mac}`,
    "ip",
    [
      "netns",
      "exec",
      net.name,
      "qemu-system-x86_64",
      "-m",
      vm.firmware === "bios-ipxe" ? "256" : "512",
      "-boot",
      "n",
      "-smbios",
      `type=1,uuid=${vm.smbiosUuid}`,
      "-netdev",
      `tap,id=n0,ifname=${tap},script=no,downscript=no`,
      ...nic,
      "-serial",
      "none",
      "-monitor",
      "none",
      "-display",
      "none",
    ],
    { logFile: join(dir, "qemu.log") },
  );
  return Object.assign(proc, {
    tap,
    async stopAndClean(): Promise<void> {
      await proc.stop(5_000);
      rmSync(dir, { recursive: true, force: true });
    },
  });
}
