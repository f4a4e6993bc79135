/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kesync: tracepoints of the request life cycle.
 *
 *   kesync_queued -> kesync_started -> kesync_programmed -> kesync_irq ->
 *   kesync_dpc -> [kesync_partial -> kesync_irq -> kesync_dpc ...] ->
 *   kesync_completed
 *
 * plus kesync_timeout, kesync_reset and kesync_cancelled.  Enable with
 * "echo 1 > /sys/kernel/tracing/events/kesync/enable".
 *
 * (The file name has an underscore because TRACE_INCLUDE_FILE names it.)
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM kesync

#if !defined(_KESYNC_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _KESYNC_TRACE_H

#include <linux/tracepoint.h>

#include "kesync-dev.h"

DECLARE_EVENT_CLASS(kesync_req_class,
		    TP_PROTO(const struct kesync_req *req, ssize_t result),
		    TP_ARGS(req, result),
		    TP_STRUCT__entry(__field(int, unit)
				     __field(u64, id)
				     __field(bool, write)
				     __field(s64, pos)
				     __field(size_t, len)
				     __field(size_t, done)
				     __field(s64, result)),
		    TP_fast_assign(__entry->unit = req->unit->id;
				   __entry->id = req->id;
				   __entry->write = req->write;
				   __entry->pos = req->pos;
				   __entry->len = req->len;
				   __entry->done = req->done;
				   __entry->result = result;),
		    TP_printk("kesync%d req=%llu %s pos=%lld len=%zu done=%zu result=%lld",
			      __entry->unit, __entry->id,
			      __entry->write ? "write" : "read", __entry->pos,
			      __entry->len, __entry->done, __entry->result));

DEFINE_EVENT(kesync_req_class, kesync_queued,
	     TP_PROTO(const struct kesync_req *req, ssize_t result),
	     TP_ARGS(req, result));
DEFINE_EVENT(kesync_req_class, kesync_started,
	     TP_PROTO(const struct kesync_req *req, ssize_t result),
	     TP_ARGS(req, result));
DEFINE_EVENT(kesync_req_class, kesync_cancelled,
	     TP_PROTO(const struct kesync_req *req, ssize_t result),
	     TP_ARGS(req, result));
DEFINE_EVENT(kesync_req_class, kesync_completed,
	     TP_PROTO(const struct kesync_req *req, ssize_t result),
	     TP_ARGS(req, result));

DECLARE_EVENT_CLASS(kesync_xfer_class,
		    TP_PROTO(const struct kesync_req *req, int ret),
		    TP_ARGS(req, ret),
		    TP_STRUCT__entry(__field(int, unit)
				     __field(u64, id)
				     __field(s64, offset)
				     __field(u32, len)
				     __field(u32, nsegs)
				     __field(u32, tag)
				     __field(int, ret)),
		    TP_fast_assign(__entry->unit = req->unit->id;
				   __entry->id = req->id;
				   __entry->offset = req->pos + req->done;
				   __entry->len = req->win_len;
				   __entry->nsegs = req->win_nsegs;
				   __entry->tag = req->tag;
				   __entry->ret = ret;),
		    TP_printk("kesync%d req=%llu offset=%lld len=%u nsegs=%u tag=%u ret=%d",
			      __entry->unit, __entry->id, __entry->offset, __entry->len,
			      __entry->nsegs, __entry->tag, __entry->ret));

DEFINE_EVENT(kesync_xfer_class, kesync_programmed,
	     TP_PROTO(const struct kesync_req *req, int ret),
	     TP_ARGS(req, ret));
DEFINE_EVENT(kesync_xfer_class, kesync_partial,
	     TP_PROTO(const struct kesync_req *req, int ret),
	     TP_ARGS(req, ret));

TRACE_EVENT(kesync_irq,
	    TP_PROTO(const struct kesync_unit *u, u32 seq, u32 status, u32 bytes,
		     bool completed),
	    TP_ARGS(u, seq, status, bytes, completed),
	    TP_STRUCT__entry(__field(int, unit)
			     __field(u32, seq)
			     __field(u32, status)
			     __field(u32, bytes)
			     __field(bool, completed)),
	    TP_fast_assign(__entry->unit = u->id;
			   __entry->seq = seq;
			   __entry->status = status;
			   __entry->bytes = bytes;
			   __entry->completed = completed;),
	    TP_printk("kesync%d seq=%u status=0x%x bytes=%u%s",
		      __entry->unit, __entry->seq, __entry->status, __entry->bytes,
		      __entry->completed ? "" : " spurious"));

TRACE_EVENT(kesync_dpc,
	    TP_PROTO(const struct kesync_req *req, bool completed, bool reset_hit,
		     bool cancel),
	    TP_ARGS(req, completed, reset_hit, cancel),
	    TP_STRUCT__entry(__field(int, unit)
			     __field(u64, id)
			     __field(size_t, done)
			     __field(bool, completed)
			     __field(bool, reset_hit)
			     __field(bool, cancel)),
	    TP_fast_assign(__entry->unit = req->unit->id;
			   __entry->id = req->id;
			   __entry->done = req->done;
			   __entry->completed = completed;
			   __entry->reset_hit = reset_hit;
			   __entry->cancel = cancel;),
	    TP_printk("kesync%d req=%llu done=%zu completed=%d reset_hit=%d cancel=%d",
		      __entry->unit, __entry->id, __entry->done, __entry->completed,
		      __entry->reset_hit, __entry->cancel));

TRACE_EVENT(kesync_timeout,
	    TP_PROTO(const struct kesync_unit *u, bool lost_irq),
	    TP_ARGS(u, lost_irq),
	    TP_STRUCT__entry(__field(int, unit)
			     __field(bool, lost_irq)),
	    TP_fast_assign(__entry->unit = u->id;
			   __entry->lost_irq = lost_irq;),
	    TP_printk("kesync%d %s",
		      __entry->unit,
		      __entry->lost_irq ? "lost interrupt recovered" : "timed out"));

TRACE_EVENT(kesync_reset,
	    TP_PROTO(const struct kesync_dev *kdev, unsigned int attempt, int err),
	    TP_ARGS(kdev, attempt, err),
	    TP_STRUCT__entry(__field(int, ctrl)
			     __field(unsigned int, attempt)
			     __field(int, err)),
	    TP_fast_assign(__entry->ctrl = kdev->id;
			   __entry->attempt = attempt;
			   __entry->err = err;),
	    TP_printk("controller %d attempt=%u err=%d",
		      __entry->ctrl, __entry->attempt, __entry->err));

#endif /* _KESYNC_TRACE_H */

/* This part must be outside the include guard. */
#undef TRACE_INCLUDE_PATH
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_PATH .
#define TRACE_INCLUDE_FILE kesync_trace
#include <trace/define_trace.h>
