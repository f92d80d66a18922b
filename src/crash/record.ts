/**
 * A recording session: a VM whose scratch filesystem lives on the recording disk. The host runs
 * programs on `target` as usual, places marks on `disk` when the guest reports an fsync completion,
 * and ends with `crash()`: the log is cut (frozen) first, then qemu is SIGKILLed, so neither a guest
 * sync nor qemu's own exit-time flushes (research/nbd_experiment.md §3.4) reach the recording.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { VmTarget } from '../target/vm';
import { makeDiskImage, ScratchFs } from '../vm/qemu';
import type { KernelImage } from '../vm/types';
import type { Recording } from './log';
import { ExportSpec, NbdServer, RecordingDisk } from './nbd';

/** What to record on. */
export interface RecordOptions {
  kernel: KernelImage;
  /** The filesystem made (host mkfs) on the base image and mounted at the guest's /scratch. */
  fs: Exclude<ScratchFs, 'tmpfs'>;
  /** Device size (default 512 MiB; mkfs.xfs wants at least 300). */
  sizeMb?: number;
  /** A lying disk: writes this returns true for are acknowledged but never logged (ExportSpec.drop). */
  drop?: ExportSpec['drop'];
  memoryMb?: number;
  /** Extra kernel command-line words. */
  append?: string;
  /** Keep console logs here (default: inside the session's work dir, removed on close). */
  logDir?: string;
  /** Known VM slowdown: skips measuring it at boot. */
  slowdown?: number;
  log?: (line: string) => void;
}

/** A running recording session. */
export interface RecordSession {
  /** The VM target; /scratch is the recorded filesystem. Do not use it after crash(). */
  target: VmTarget;
  /** The recording disk: `mark()` after each reaped fsync, `entries` so far. */
  disk: RecordingDisk;
  server: NbdServer;
  /** The mkfs'ed base image the recording starts from (Recording.base); valid until close(). */
  base: string;
  /** Scratch directory of the session (base image, NBD socket), removed by close(). */
  workDir: string;
  /**
   * The crash: freeze the log, SIGKILL qemu (no sync, no shutdown), and return the recording. The
   * target is closed; the server keeps serving until close(). Calling it again returns the same log.
   */
  crash(): Promise<Recording>;
  /** Crash if not yet done, stop the server, remove the work dir (and with it the base image). */
  close(): Promise<void>;
}

/**
 * Make a base image of `opts.fs` with the host's mkfs, serve it as NBD export 'rec', and boot a
 * VM target of `opts.kernel` whose /scratch is that disk (qemu cache=writeback). Resolves once the
 * agent is ready; everything the guest wrote from the mount on is in `disk.entries`.
 */
export async function recordSession(opts: RecordOptions): Promise<RecordSession> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kasync-rec-'));
  const base = path.join(workDir, `base.${opts.fs}.img`);
  let server: NbdServer | undefined;
  let target: VmTarget | undefined;
  try {
    makeDiskImage(base, opts.fs, opts.sizeMb ?? 512);
    server = await NbdServer.start({
      socket: path.join(workDir, 'nbd.sock'),
      workDir,
      exports: { rec: { base, drop: opts.drop } },
    });
    const disk = server.disk('rec');
    target = new VmTarget({
      kernel: opts.kernel,
      fs: opts.fs,
      disk: { nbdSocket: server.socket, exportName: 'rec' },
      logDir: opts.logDir ?? path.join(workDir, 'logs'),
      memoryMb: opts.memoryMb,
      append: opts.append,
      slowdown: opts.slowdown,
      log: opts.log,
    });
    await target.ensureVm();
    const t = target;
    const s = server;
    let crashed: Promise<Recording> | undefined;
    const crash = () =>
      (crashed ??= (async () => {
        disk.freeze();
        await t.kill();
        await t.close();
        return disk.recording();
      })());
    return {
      target: t,
      disk,
      server: s,
      base,
      workDir,
      crash,
      close: async () => {
        await crash().catch(() => undefined);
        await s.close();
        fs.rmSync(workDir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await target?.kill().catch(() => undefined);
    await target?.close().catch(() => undefined);
    await server?.close();
    fs.rmSync(workDir, { recursive: true, force: true });
    throw e;
  }
}
