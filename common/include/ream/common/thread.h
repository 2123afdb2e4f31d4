// Thread names and priorities (Linux).
//
// set_thread_name: the calling thread's name as `top -H`, `ps -L`, gdb and perf show it
// (at most 15 bytes; a longer name is cut). Threads a named thread starts inherit its
// name until they set their own.
//
// lower_thread_priority: adds `steps` to the calling thread's nice value (a lower
// priority; at most 19), so that threads left at the process's own priority are
// scheduled first when the CPUs are short. Threads this one starts afterwards inherit
// the lower priority. An unprivileged process may lower its threads' priority but never
// raise it back, so this cannot be undone. reamd lowers its handler and runner threads
// below its HTTP I/O threads (http.worker_nice): /healthz and every response's bytes
// then wait for no handler or runner computing on the same cores. Returns false, changing
// nothing, where the system refuses; `steps` <= 0 changes no nice value. It first leaves
// a real-time policy (below).
//
// leave_realtime: when the calling thread runs a real-time policy (SCHED_FIFO or
// SCHED_RR: reamd started by systemd with CPUSchedulingPolicy=rr, which every thread
// inherits), switches it to SCHED_OTHER, the normal time-shared policy, at the
// process's nice value. reamd keeps the real-time policy for its I/O threads only (and
// its small signal, readiness and event threads): its workers, the model loader and the engine
// leave it, so that nothing computing for long can hold a core from others. Unprivileged
// threads may always do this. Returns false where the system refuses.

#pragma once

namespace ream {

void set_thread_name(const char* name);
bool lower_thread_priority(int steps);
bool leave_realtime();

}  // namespace ream
