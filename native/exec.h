// kasync executor: one interpreter of the wire program described in WIRE.md.
// Used by the in-process Node addon (KX_INPROC) and by kasync-exec's runner (KX_RUNNER).
#ifndef KASYNC_EXEC_H
#define KASYNC_EXEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KX_WIRE_VERSION 1
#define KX_INPROC 0 // inside a host process (Node): process-level steps are refused
#define KX_RUNNER 1 // everything allowed; meant for a disposable child process

// Runs a program and returns its trace in *trace (malloc'd, caller frees). In KX_INPROC mode the
// program runs on a short-lived thread of its own. Returns 0, or -ENOMEM.
int kx_run(const uint8_t *prog, size_t len, int mode, uint8_t **trace, size_t *trace_len);
// The same without the copy: the trace stays in a pooled region until kx_release(*handle).
// Returns NULL if no region could be mapped.
const uint8_t *kx_run_region(const uint8_t *prog, size_t len, int mode, void **handle, size_t *trace_len);
void kx_release(void *handle);

// Building blocks for kasync-exec, where the trace region is shared memory that outlives the
// runner. Size the region, init it, let the runner call kx_exec, then compose with kx_finish
// once every writer is gone.
size_t kx_region_size(const uint8_t *prog, size_t len);
uint32_t kx_deadline_ms(const uint8_t *prog, size_t len); // header deadline, 1000 if unreadable
void kx_region_init(void *region, size_t size);
void kx_exec(const uint8_t *prog, size_t len, int mode, void *region);
void kx_set_error(void *region, const char *msg); // status 1 with msg, unless already failed
// died: the runner did not finish (status 3); wstatus: its wait status, or -1 (in-process).
// Returns a pointer into the region; valid until the region is unmapped.
const uint8_t *kx_finish(void *region, int died, int wstatus, size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif
