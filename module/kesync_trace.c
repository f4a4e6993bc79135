// SPDX-License-Identifier: GPL-2.0
/*
 * kesync: instantiates the tracepoints declared in kesync-trace.h.
 */
#include <linux/module.h>

#define CREATE_TRACE_POINTS
#include "kesync_trace.h"
