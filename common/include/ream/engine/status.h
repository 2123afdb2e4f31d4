// The spelling most of ream includes Status by; the type lives in the common library
// (ream/common/status.h), which the engine and the daemon's libraries both link.
#pragma once

#include "ream/common/status.h"  // IWYU pragma: export
