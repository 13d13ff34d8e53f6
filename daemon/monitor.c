/* monitor.c: heartbeat checks, cancel grace, timeouts and the stalled flag (DESIGN §7). */
#include "depotd.h"
#include "log.h"
#include "timeutil.h"

#include <stdio.h>

static void check_workers(int64_t now)
{
	char msg[256];

	for (struct worker *w = D->workers; w; w = w->next) {
		if (w->state != WORKER_ONLINE ||
		    now - w->last_heartbeat_mono <= worker_timeout_of(w))
			continue;
		snprintf(msg, sizeof msg, "no heartbeat from worker %s for %lld ms",
		    w->name, (long long)(now - w->last_heartbeat_mono));
		log_warn("%s: marking it missing", msg);
		/*
		 * A hung supervised worker is killed, with what it left, before
		 * its task is released; SIGCHLD then restarts its slot.
		 */
		supervisor_kill_worker(w);
		worker_lost(w, WORKER_MISSING, task_reason_name(REASON_WORKER_MISSING), msg);
	}
}

static void check_task(struct task *t, void *ctx)
{
	int64_t now = *(int64_t *)ctx;
	char msg[256];

	/* Its worker is done; its version is being recorded (recorder.c), bounded by its size. */
	if (t->state == TASK_WAITING || t->d->recording)
		return;
	switch (t->state) {
	case TASK_RUNNING:
		if (t->d->timeout_ms > 0 && now - t->d->started_mono > t->d->timeout_ms) {
			snprintf(msg, sizeof msg, "ran longer than its timeout of %lld ms",
			    (long long)t->d->timeout_ms);
			log_info("task %lld %s: stopping it", (long long)t->id, msg);
			task_cancel(t, task_reason_name(REASON_TIMEOUT), msg, TASK_FAILED);
		} else if (!t->d->stalled && now - t->d->progress_mono > D->cfg.stall_after_ms) {
			t->d->stalled = 1;
			log_info("task %lld stalled: no progress for %lld ms", (long long)t->id,
			    (long long)(now - t->d->progress_mono));
			tasks_publish(t, "progress");
		}
		break;
	case TASK_CANCELING:
		if (now - t->d->canceling_mono > D->cfg.cancel_grace_ms) {
			struct worker *w = worker_find(t->d->worker);

			log_warn("task %lld: worker %s did not stop it within cancel_grace; "
			    "killing it", (long long)t->id, t->d->worker);
			fence_task(t);
			if (w != NULL)
				supervisor_kill_worker(w);
			task_finish(t, t->d->cancel_final, NULL, t->d->cancel_reason, t->d->cancel_message);
		}
		break;
	default:
		break;
	}
}

void monitor_tick(void)
{
	int64_t now = time_mono_ms();

	D->last_check = time_now_ms();
	check_workers(now);
	tasks_foreach(check_task, &now);
}
