/**
 * Kernel reports (BUG, WARNING, KASAN, lockdep, hangs, panics, …) found in a VM's serial console text,
 * with syzkaller-style titles and attribution to the `KASYNC-RUN <n>` marker written before each program.
 */

/** What kind of incident a report describes. */
export type ReportKind =
  | 'BUG'
  | 'kernel BUG'
  | 'WARNING'
  | 'KASAN'
  | 'UBSAN'
  | 'KFENCE'
  | 'lockdep'
  | 'hung task'
  | 'rcu stall'
  | 'soft lockup'
  | 'general protection fault'
  | 'Oops'
  | 'panic';

/** One incident found on the console. */
export interface KernelReport {
  kind: ReportKind;
  /** syzkaller-style one-liner, e.g. `'WARNING in io_req_task_work_add'`. */
  title: string;
  /** Index of the report's first line in the console text (lines split on `\n`). */
  start: number;
  /** Index one past the report's last line. */
  end: number;
  /** The report's lines, as printed (CRs removed). */
  text: string;
}

/** What the console shows after a program stopped answering. */
export type HangClass = 'hung task' | 'rcu stall' | 'soft lockup' | 'panic' | 'silent';

/** A header line that opens a report; `func` is a function named on the header itself. */
interface Header {
  kind: ReportKind;
  /** Title without the function; `' in <func>'` is appended when one is found. */
  stem: string;
  func?: string;
  /** Whether the title gets a function at all (a panic's title carries its reason instead). */
  wantsFunc: boolean;
}

/** The agent's `KASYNC-RUN <n>` (program n starts) and `KASYNC-END <n>` (its runner and group are gone). */
const MARKER = /KASYNC-(RUN|END) (\d+)/;
/** `[    3.123456]`, optionally followed by a printk caller id `[  T123]` / `[ C0]`, and a syslog `<4>`. */
const PREFIX = /^(?:<\d+>)?(?:\[\s*\d+\.\d+\]\s?)?(?:\[\s*[TC]\d+\]\s?)?/;
const FRAME = /^\s*(\?\s+)?([A-Za-z_$][\w.$]*)\+0x[0-9a-f]+\/0x[0-9a-f]+/;
const KERNEL_RIP = /^(?:RIP|EIP|pc)\s*:\s*(?:0010:)?([A-Za-z_$][\w.$]*)\+0x[0-9a-f]+\/0x[0-9a-f]+/;
const END_TRACE = /^-+\[ end (?:trace|Kernel panic)/;
const RULER = /^={20,}\s*$/;
const CUT_HERE = /^-+\[ cut here \]-+/;
/** Kinds whose report is closed by a ruler of `=` (KASAN, KFENCE and UBSAN print one before and after). */
const RULED_KINDS = new Set<ReportKind>(['KASAN', 'KFENCE', 'UBSAN']);
/** A panic this many lines after a report, with no marker between, is that report's consequence. */
const PANIC_MERGE_GAP = 200;
/** A repeat of the same title this close, with no marker between, is the same incident (hung task every 2 s…). */
const REPEAT_MERGE_GAP = 50;
/** Never let one report swallow more than this many lines. */
const MAX_REPORT_LINES = 2000;
/** Lines that are not report-like end an unclosed report after this many in a row. */
const MAX_FOREIGN_RUN = 8;

/**
 * Frames that name the machinery printing or causing the report rather than the code at fault: stack dumpers,
 * trap and fault handlers, the scheduler and sleeping primitives, sanitizer and lockdep internals, locks,
 * timer-interrupt plumbing and the generic syscall / kthread entry points.
 */
const GENERIC_FRAME = new RegExp(
  '^(?:' +
    [
      'dump_stack\\w*',
      'show_stack\\w*',
      'show_regs',
      'show_trace_log_lvl',
      'sched_show_task',
      'warn\\w*',
      'report_bug',
      'handle_bug',
      'exc_\\w+',
      'asm_exc_\\w+',
      'asm_sysvec_\\w+',
      'sysvec_\\w+',
      'asm_common_interrupt',
      'common_interrupt',
      'irq_exit\\w*',
      'do_softirq',
      'handle_softirqs',
      'do_error_trap',
      'do_trap',
      'die\\w*',
      'oops_\\w+',
      'page_fault_oops',
      'kernelmode_fixup_or_oops',
      'bad_area\\w*',
      'do_user_addr_fault',
      'do_kern_addr_fault',
      'handle_page_fault',
      'no_context',
      'spurious_kernel_fault',
      'panic\\w*',
      'check_panic_on_warn',
      'nmi_\\w+',
      'default_do_nmi',
      'schedule\\w*',
      'preempt_schedule\\w*',
      'cond_resched\\w*',
      'io_schedule\\w*',
      'might_\\w+',
      'msleep\\w*',
      'usleep_range\\w*',
      'ssleep',
      'mutex_lock\\w*',
      'down\\w*',
      'rwsem_down\\w*',
      'wait_for_common\\w*',
      'do_wait_for_common',
      'wait_for_completion\\w*',
      'kasan_\\w+',
      'asan_\\w+',
      'end_report',
      'kfence_\\w+',
      'print_report',
      'print_address_description\\w*',
      'ubsan_\\w+',
      'lock_acquire\\w*',
      'lock_release',
      'lock_acquired',
      'lock_contended',
      'check_\\w+',
      'print_\\w+',
      'validate_chain',
      'lockdep_\\w+',
      'mark_lock\\w*',
      'mark_usage',
      'raw_\\w+',
      'do_raw_\\w+',
      'queued_\\w+',
      'native_queued_\\w+',
      'rcu_\\w+',
      'update_process_times',
      'tick_\\w+',
      'hrtimer_run_queues',
      'hrtimer_interrupt',
      'watchdog_timer_fn',
      'fortify_panic',
      'list_\\w+_valid\\w*',
      'kthread',
      'ret_from_fork\\w*',
      'entry_SYSCALL\\w*',
      'do_syscall_\\w+',
      'x64_sys_\\w+',
      'se_sys_\\w+',
      'do_sys_\\w+',
      'x64_sys_call',
      'syscall_exit\\w*',
      'exit_to_user_mode\\w*',
      'memcpy\\w*',
      'memset\\w*',
      'memmove\\w*',
      'strlen',
      'strcpy',
    ].join('|') +
    ')$',
);

/** Lines that plausibly belong to a report that is still being printed. */
const REPORT_LIKE = new RegExp(
  '^(?:\\s|$|>|<\\/?(?:TASK|IRQ|NMI|SOFTIRQ)>|\\? |[-=*]{3,}|#\\d|-> #\\d|' +
    '(?:RIP|EIP|RSP|RAX|RBX|RCX|RDX|RSI|RDI|RBP|R\\d+|FS|GS|CS|CR\\d|DR\\d|Code|Call Trace|Modules linked in|' +
    'CPU|Hardware name|Tainted|task|Workqueue|PGD|P4D|PUD|PMD|PTE|#PF|Oops|invalid opcode|Kernel Offset|' +
    'Kernel panic|rcu|INFO|Showing|Read of size|Write of size|Allocated by|Freed by|Last potentially|' +
    'The buggy address|Memory state|Disabling lock debugging|irq event stamp|hardirqs|softirqs|other info|' +
    'stack backtrace|Possible|Chain exists|the existing dependency|which lock already|but task is already|' +
    'Use-after-free|Out-of-bounds|Invalid free|Invalid read|Invalid write|Corrupted memory|kfence-#|allocated by|' +
    'freed by|page|flags|raw|head|index|memcg|Sending NMI|NMI backtrace|\\[last unloaded|' +
    '"echo 0 > )|' +
    '[\\w.-]+/\\d+ is trying|[\\w.-]+/\\d+ \\[HC|\\d+ locks? held by|no locks held by)',
);

/** Matches a header line (prefix already stripped) and says what it opens. */
function matchHeader(body: string): Header | undefined {
  let m: RegExpMatchArray | null;
  if ((m = body.match(/^BUG: KASAN: ([\w-]+) in ([\w.$]+)/))) {
    return { kind: 'KASAN', stem: `KASAN: ${m[1]}`, func: m[2], wantsFunc: true };
  }
  if ((m = body.match(/^BUG: KFENCE: (.+?) in ([\w.$]+)/))) {
    return { kind: 'KFENCE', stem: `KFENCE: ${m[1]}`, func: m[2], wantsFunc: true };
  }
  if ((m = body.match(/^UBSAN: ([\w-]+(?: [\w-]+)*?) in /))) {
    return { kind: 'UBSAN', stem: `UBSAN: ${m[1]}`, wantsFunc: true };
  }
  if ((m = body.match(/^WARNING: (possible circular locking dependency|possible recursive locking) detected/))) {
    return { kind: 'lockdep', stem: 'possible deadlock', wantsFunc: true };
  }
  if (/^WARNING: inconsistent lock state/.test(body)) {
    return { kind: 'lockdep', stem: 'inconsistent lock state', wantsFunc: true };
  }
  const lockdepMisc = /^WARNING: (bad unlock balance|held lock freed|suspicious RCU usage)/;
  if ((m = body.match(lockdepMisc))) {
    return { kind: 'lockdep', stem: m[1], wantsFunc: true };
  }
  // no stack follows: the held lock's ` at: func+0x…` line names where it was taken
  if (/^WARNING: lock held when returning to user space/.test(body)) {
    return { kind: 'lockdep', stem: 'WARNING: lock held when returning to user space', wantsFunc: true };
  }
  if ((m = body.match(/^WARNING: (?:CPU: \d+ PID: \d+ )?at \S+ ([\w.$]+)\+0x/))) {
    return { kind: 'WARNING', stem: 'WARNING', func: m[1], wantsFunc: true };
  }
  if (/^WARNING: CPU: \d+ PID: \d+ at /.test(body)) return { kind: 'WARNING', stem: 'WARNING', wantsFunc: true };
  if (/^BUG: kernel NULL pointer dereference/.test(body) || /^BUG: unable to handle kernel NULL pointer/.test(body)) {
    return { kind: 'BUG', stem: 'BUG: unable to handle kernel NULL pointer dereference', wantsFunc: true };
  }
  if (/^BUG: unable to handle (?:page fault|kernel paging request)/.test(body)) {
    return { kind: 'BUG', stem: 'BUG: unable to handle kernel paging request', wantsFunc: true };
  }
  if (/^(?:watchdog: )?BUG: soft lockup/.test(body)) {
    return { kind: 'soft lockup', stem: 'BUG: soft lockup', wantsFunc: true };
  }
  if ((m = body.match(/^BUG: (sleeping function called from invalid context|scheduling while atomic|spinlock \w+)/))) {
    return { kind: 'BUG', stem: `BUG: ${m[1]}`, wantsFunc: true };
  }
  if ((m = body.match(/^BUG: (workqueue lockup|[Bb]ad page \w+|Bad rss-counter state|non-zero pgtables_bytes)/))) {
    return { kind: 'BUG', stem: `BUG: ${m[1]}`, wantsFunc: false };
  }
  if ((m = body.match(/^BUG: (.+)/))) return { kind: 'BUG', stem: `BUG: ${shorten(m[1])}`, wantsFunc: false };
  if (/^kernel BUG at \S+!/.test(body)) return { kind: 'kernel BUG', stem: 'kernel BUG', wantsFunc: true };
  if (/^INFO: task \S+:\d+ blocked for more than \d+ seconds/.test(body)) {
    return { kind: 'hung task', stem: 'INFO: task hung', wantsFunc: true };
  }
  if (/^(?:rcu: )?INFO: rcu_\w+ (?:self-)?detected (?:expedited )?stalls?/.test(body)) {
    return { kind: 'rcu stall', stem: 'INFO: rcu detected stall', wantsFunc: true };
  }
  if (/^(?:Oops: )?general protection fault\b/.test(body)) {
    return { kind: 'general protection fault', stem: 'general protection fault', wantsFunc: true };
  }
  if ((m = body.match(/^Kernel panic - not syncing: ?(.*)/))) {
    return { kind: 'panic', stem: `kernel panic: ${shorten(m[1]) || 'unknown reason'}`, wantsFunc: false };
  }
  return undefined;
}

/** A line that continues an open report (or opens an 'Oops' report when none is open). */
function isOopsLine(body: string): boolean {
  return /^(?:Oops: |invalid opcode: [0-9a-f]+ \[#\d+\])/.test(body);
}

function shorten(s: string): string {
  return s.replace(/\s+/g, ' ').trim().slice(0, 120);
}

/** `splat_null.isra.0` → `splat_null`: compiler clones keep the source function's name in titles. */
function baseName(func: string): string {
  return func.replace(/\.(?:isra|constprop|part|cold|llvm|lto_priv|localalias)(?:\.\d+)*.*$/, '');
}

/** Leading underscores are dropped first: `__schedule`, `_raw_spin_lock` and `schedule` are the same family. */
function isGeneric(func: string): boolean {
  return GENERIC_FRAME.test(baseName(func).replace(/^_+/, ''));
}

/** Finds the function a report is about: the header's own, else the kernel RIP, else the first telling frame. */
function guiltyFunction(header: Header, bodies: string[]): string | undefined {
  if (header.func && !isGeneric(header.func)) return baseName(header.func);
  for (const body of bodies) {
    const rip = body.match(KERNEL_RIP);
    if (rip && !isGeneric(rip[1])) return baseName(rip[1]);
  }
  // lockdep prints lock chains with frames before its real stack; only the stack names the culprit.
  const backtrace = bodies.findIndex((b) => /^stack backtrace:/.test(b));
  if (header.kind === 'lockdep' && backtrace >= 0) bodies = bodies.slice(backtrace);
  if (header.kind === 'lockdep' && backtrace < 0)
    for (const body of bodies) {
      const at = body.match(/, at: ([\w.$]+)\+0x/);
      if (at && !isGeneric(at[1])) return baseName(at[1]);
    }
  let firstUnreliable: string | undefined;
  let inInterrupt = false;
  for (const body of bodies) {
    const trimmed = body.trim();
    if (/^<(?:IRQ|NMI|SOFTIRQ)>$/.test(trimmed)) inInterrupt = true;
    else if (/^<\/(?:IRQ|NMI|SOFTIRQ)>$/.test(trimmed)) inInterrupt = false;
    if (inInterrupt) continue;
    const frame = body.match(FRAME);
    if (!frame || isGeneric(frame[2]) || frame[2].startsWith('__pfx_')) continue;
    if (!frame[1]) return baseName(frame[2]);
    firstUnreliable ??= baseName(frame[2]);
  }
  return firstUnreliable;
}

/** The console text as lines, CRs removed (serial consoles print `\r\n`, and stray CRs appear mid-line). */
function splitLines(text: string): string[] {
  return text.replace(/\r/g, '').split('\n');
}

function stripPrefix(line: string): string {
  return line.replace(PREFIX, '');
}

interface OpenReport {
  header: Header;
  start: number;
  end: number;
}

/**
 * Finds the kernel reports in console text. One report per incident: an Oops and the panic it causes are one
 * report, and back-to-back repeats of the same report (a hung task re-reported every check) are merged.
 * Never throws; unparseable input gives no reports.
 */
export function parseReports(text: string): KernelReport[] {
  try {
    return parseLines(splitLines(typeof text === 'string' ? text : String(text)));
  } catch {
    return [];
  }
}

function parseLines(lines: string[]): KernelReport[] {
  const bodies = lines.map(stripPrefix);
  const found: OpenReport[] = [];
  let lastMarker = -1;
  let open: OpenReport | undefined;
  let foreignRun = 0;
  let closedStack = false;

  const close = (end: number): void => {
    if (!open) return;
    while (end > open.start + 1 && bodies[end - 1].trim() === '') end--;
    open.end = Math.max(open.start + 1, end);
    found.push(open);
    open = undefined;
  };

  for (let i = 0; i < bodies.length; i++) {
    const body = bodies[i];
    if (MARKER.test(body)) {
      // with programs in flight another's marker may land inside a stack being printed: a foreign line there
      if (open && !closedStack) {
        foreignRun++;
        if (foreignRun < MAX_FOREIGN_RUN) continue;
      }
      close(i - foreignRun);
      lastMarker = i;
      continue;
    }
    const header = matchHeader(body);
    if (header) {
      const previous = open ?? found[found.length - 1];
      const previousEnd = open ? i : previous?.end ?? -1;
      const sameIncident = previous !== undefined && previous.start > lastMarker;
      if (header.kind === 'panic' && sameIncident && i - previousEnd <= PANIC_MERGE_GAP) {
        reopen(previous);
        continue;
      }
      close(i - foreignRun);
      const last = found[found.length - 1];
      if (last && last.start > lastMarker && i - last.end <= REPEAT_MERGE_GAP && sameTitle(last, header, bodies, i)) {
        reopen(last);
        continue;
      }
      open = { header, start: headerStart(bodies, i, Math.max(lastMarker + 1, last?.end ?? 0)), end: i + 1 };
      foreignRun = 0;
      closedStack = false;
      continue;
    }
    if (!open) {
      if (isOopsLine(body)) {
        open = { header: { kind: 'Oops', stem: oopsStem(body), wantsFunc: true }, start: i, end: i + 1 };
        foreignRun = 0;
        closedStack = false;
      }
      continue;
    }
    if (i - open.start >= MAX_REPORT_LINES) {
      close(i - foreignRun);
      continue;
    }
    if (RULED_KINDS.has(open.header.kind) && RULER.test(body) && i > open.start + 1) {
      close(i + 1);
      continue;
    }
    // After `end trace` x86 repeats the registers; keep those, but the next foreign line ends the report.
    if (END_TRACE.test(body)) {
      foreignRun = 0;
      closedStack = true;
      continue;
    }
    if (REPORT_LIKE.test(body) || isOopsLine(body)) {
      foreignRun = 0;
      if (/^\s*<\/TASK>\s*$/.test(body)) closedStack = true;
      else if (/^\s*<TASK>\s*$/.test(body)) closedStack = false;
      continue;
    }
    // A foreign line: after a finished stack it ends the report; inside one, only a long run of them does.
    if (closedStack) {
      close(i);
      continue;
    }
    foreignRun++;
    if (foreignRun >= MAX_FOREIGN_RUN) close(i + 1 - foreignRun);
  }
  close(bodies.length - foreignRun);

  function reopen(report: OpenReport): void {
    if (open !== report) {
      if (open) close(report.end);
      const at = found.indexOf(report);
      if (at >= 0) found.splice(at, 1);
      open = report;
    }
    foreignRun = 0;
    closedStack = false;
  }

  return found.map((r) => toReport(r, lines, bodies));
}

/** Includes the `cut here` line or `====` ruler a header is printed under (with any message between them). */
function headerStart(bodies: string[], i: number, floor: number): number {
  let start = i;
  for (let k = i - 1; k >= floor && k >= i - 3; k--) {
    if (CUT_HERE.test(bodies[k]) || RULER.test(bodies[k])) start = k;
  }
  return start;
}

function sameTitle(previous: OpenReport, header: Header, bodies: string[], i: number): boolean {
  if (previous.header.kind !== header.kind) return false;
  // The new report's own lines: up to the next header or marker, so a later incident cannot lend it a function.
  let end = i + 1;
  while (end < bodies.length && end < i + 300 && !MARKER.test(bodies[end]) && !matchHeader(bodies[end])) end++;
  const nextBodies = bodies.slice(i, end);
  return title(previous.header, bodies.slice(previous.start, previous.end)) === title(header, nextBodies);
}

/** `Oops: 0000 [#1] …` → `'Oops'`; `invalid opcode: 0000 [#1] …` → `'Oops: invalid opcode'`. */
function oopsStem(body: string): string {
  const m = body.replace(/^(?:Oops: )+/, '').match(/^(.*?):? ?[0-9a-f]* \[#\d+\]/);
  const what = m ? shorten(m[1]) : '';
  return what ? `Oops: ${what}` : 'Oops';
}

function title(header: Header, bodies: string[]): string {
  if (!header.wantsFunc) return header.stem;
  let stem = header.stem;
  if (header.kind === 'KASAN') {
    const access = bodies.map((b) => b.match(/^(Read|Write) of size/)).find((m) => m);
    if (access) stem = `${stem} ${access[1]}`;
  }
  const func = guiltyFunction(header, bodies.slice(1));
  return func ? `${stem} in ${func}` : stem;
}

function toReport(r: OpenReport, lines: string[], bodies: string[]): KernelReport {
  const own = bodies.slice(r.start, r.end);
  const headerAt = own.findIndex((b) => matchHeader(b) !== undefined || isOopsLine(b));
  return {
    kind: r.header.kind,
    title: title(r.header, own.slice(Math.max(0, headerAt))),
    start: r.start,
    end: r.end,
    text: lines.slice(r.start, r.end).join('\n'),
  };
}

/** Programs that ended before a report and may still have caused it (teardown is partly asynchronous). */
const ENDED_SUSPECTS = 4;

/** A console report, the program it followed, and the programs that may have caused it. */
export interface AttributedReport {
  /** The last `KASYNC-RUN <n>` before the report's first line. */
  run: number | undefined;
  /**
   * Programs started before the report's first line and not ended by then (the last started first),
   * then the last few that had ended (the last ended first): with several programs in flight, the
   * report may be any of theirs.
   */
  suspects: number[];
  report: KernelReport;
}

/** Finds the reports and attributes each to the programs whose markers surround its first line. */
export function attributeReports(text: string): AttributedReport[] {
  try {
    const reports = parseReports(text);
    const lines = splitLines(typeof text === 'string' ? text : String(text));
    const markers: Array<{ line: number; end: boolean; run: number }> = [];
    lines.forEach((line, i) => {
      const m = line.match(MARKER);
      if (m) markers.push({ line: i, end: m[1] === 'END', run: Number(m[2]) });
    });
    let k = 0;
    let run: number | undefined;
    const inFlight: number[] = [];
    const ended: number[] = [];
    return reports.map((report) => {
      for (; k < markers.length && markers[k].line < report.start; k++) {
        const m = markers[k];
        const at = inFlight.indexOf(m.run);
        if (at >= 0) inFlight.splice(at, 1);
        if (m.end) ended.push(m.run);
        else {
          inFlight.push(m.run);
          run = m.run;
        }
      }
      const last = ended.slice(-ENDED_SUSPECTS).reverse();
      return { run, suspects: [...inFlight.slice().reverse(), ...last.filter((r) => !inFlight.includes(r))], report };
    });
  } catch {
    return [];
  }
}

/**
 * Says what kind of hang the console tail shows once a program stopped answering. A panic outranks everything;
 * a soft lockup outranks the RCU stall it causes, which outranks a hung task; 'silent' when none is shown.
 */
export function classifyHang(consoleTail: string): HangClass {
  const reports = parseReports(consoleTail);
  const has = (kind: ReportKind): boolean => reports.some((r) => r.kind === kind);
  if (has('panic') || reports.some((r) => /Kernel panic - not syncing/.test(r.text))) return 'panic';
  if (has('soft lockup')) return 'soft lockup';
  if (has('rcu stall')) return 'rcu stall';
  if (has('hung task')) return 'hung task';
  return 'silent';
}
