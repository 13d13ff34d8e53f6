/* control-tasks.c: the handlers that act on final tasks: restart, remove, clean. */
#include "depotd.h"

void cmd_task_restart(struct conn *conn, struct request *rq)
{
	(void)rq;
	server_reply_err(conn, ERR_BAD_REQUEST, "task.restart is not built yet");
}

void cmd_task_remove(struct conn *conn, struct request *rq)
{
	(void)rq;
	server_reply_err(conn, ERR_BAD_REQUEST, "task.remove is not built yet");
}

void cmd_task_clean(struct conn *conn, struct request *rq)
{
	(void)rq;
	server_reply_err(conn, ERR_BAD_REQUEST, "task.clean is not built yet");
}
