/** Rendering of `kasync probe`: a table for people, a stable JSON document for scripts. */
import type { Capabilities, OpSupport } from '../target/caps';

/** The `--json` document (a stable surface: keys are only ever added). */
export function probeJson(c: Capabilities): object {
  const op = (o: OpSupport) => ({ name: o.name, value: o.value, since: o.since ?? null, supported: o.supported, ...(o.note ? { note: o.note } : {}) });
  return {
    kernel: c.kernel,
    euid: c.euid,
    uring: {
      available: c.uring.available,
      ...(c.uring.reason ? { reason: c.uring.reason } : {}),
      lastOp: c.uring.lastOp,
      features: c.uring.features,
      featureNames: c.uring.featureNames,
      ops: c.uring.ops.map(op),
      setupFlags: c.uring.setupFlags,
    },
    aio: { available: c.aio.available, ...(c.aio.reason ? { reason: c.aio.reason } : {}), ops: c.aio.ops.map(op) },
    sysctl: c.sysctl,
  };
}

function table(rows: string[][]): string {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd()).join('\n');
}

/** The terminal table: interface, opcode, value, first version, supported here. */
export function formatProbe(c: Capabilities): string {
  const rows = [['interface', 'opcode', 'value', 'since', 'supported']];
  for (const o of c.uring.ops) rows.push(['io_uring', o.name, String(o.value), o.since ?? '-', o.supported ? 'yes' : 'no']);
  for (const o of c.aio.ops) rows.push(['aio', o.name, String(o.value), o.since ?? '-', o.supported ? 'yes' : `no${o.note ? ` (${o.note})` : ''}`]);
  const flags = [['setup flag', 'value', 'since', 'accepted']];
  for (const f of c.uring.setupFlags) flags.push([f.name, `0x${f.value.toString(16)}`, f.since, f.accepted ? 'yes' : `no (${f.error})`]);
  const s = c.sysctl;
  const head = [
    `kernel ${c.kernel}, euid ${c.euid}`,
    `io_uring: ${c.uring.available ? `available, ${c.uring.ops.filter((o) => o.supported).length} opcodes supported (last_op ${c.uring.lastOp}), features 0x${c.uring.features.toString(16)}` : `unavailable: ${c.uring.reason}`}`,
    `aio: ${c.aio.available ? `${c.aio.ops.filter((o) => o.supported).length} opcodes work` : `unavailable: ${c.aio.reason}`}`,
    `sysctl: kernel.io_uring_disabled=${s.io_uring_disabled ?? 'n/a'} kernel.io_uring_group=${s.io_uring_group ?? 'n/a'} fs.aio-max-nr=${s.aio_max_nr ?? 'n/a'} fs.aio-nr=${s.aio_nr ?? 'n/a'}`,
  ];
  return [...head, '', table(rows), '', table(flags)].join('\n');
}
