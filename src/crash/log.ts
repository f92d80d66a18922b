/**
 * The recording disk's write log: what the NBD server saw, in the order it replied. This file is the
 * contract between the recorder (`nbd.ts`, which appends) and crash-state computation (`states.ts`,
 * which reads). Entries follow dm-log-writes' ideas: every write carries its data; a flush is an entry
 * of its own; FUA is a flag on a write; marks are entries placed by the host at fsync completion points.
 */

/** One logged event. `seq` counts from 0 in reply order; an entry is logged when the server replied to it. */
export type LogEntry =
  | { seq: number; kind: 'write'; offset: number; data: Buffer; fua: boolean }
  | { seq: number; kind: 'zero'; offset: number; length: number; fua: boolean }
  | { seq: number; kind: 'trim'; offset: number; length: number; fua?: boolean }
  | { seq: number; kind: 'flush' }
  | { seq: number; kind: 'mark'; mark: Mark };

/** What a guest saw when it reaped an async fsync completion: the file must look like this after a crash. */
export interface Mark {
  /** Unique within one recording. */
  id: string;
  /** Path of the fsynced file relative to the test filesystem's root. */
  file: string;
  /** Expected size in bytes after recovery. */
  size: number;
  /** sha256 (hex) of the expected content; undefined where only the size is promised (fdatasync, §2). */
  sha256?: string;
  /** Which workload and interface made it, for the report. */
  workload: string;
  iface: string;
  /** fdatasync-style promise: data and size, not other metadata. */
  datasync: boolean;
}

/** Size of the recorded device and the entries; the base image is all zeroes unless `base` names a file. */
export interface Recording {
  /** Device size in bytes. */
  size: number;
  /** A raw image the recording started from (mkfs output), or undefined for a zeroed device. */
  base?: string;
  entries: LogEntry[];
}
