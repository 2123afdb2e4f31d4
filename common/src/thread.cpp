// Thread names and priorities: pthread_setname_np, and setpriority on the thread's id
// (Linux keeps a nice value per thread).
#include "ream/common/thread.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ream {

void set_thread_name(const char* name) {
  char cut[16] = {};
  std::strncpy(cut, name, sizeof cut - 1);
  pthread_setname_np(pthread_self(), cut);
}

bool leave_realtime() {
  const int policy = sched_getscheduler(0);  // 0: the calling thread
  if (policy != SCHED_FIFO && policy != SCHED_RR) return true;
  sched_param normal{};
  normal.sched_priority = 0;
  return sched_setscheduler(0, SCHED_OTHER, &normal) == 0;
}

bool lower_thread_priority(int steps) {
  if (!leave_realtime()) return false;
  if (steps <= 0) return true;
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  errno = 0;
  const int now = getpriority(PRIO_PROCESS, tid);  // -1 is a valid nice value
  if (now == -1 && errno != 0) return false;
  return setpriority(PRIO_PROCESS, tid, std::min(19, now + steps)) == 0;
}

}  // namespace ream
