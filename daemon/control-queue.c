/* control-queue.c: the handlers that steer the queue: pause, resume, resource capacity, why a task waits. */
#include "depotd.h"

void cmd_queue_pause(struct conn *conn, struct request *rq)
{
	(void)rq;
	server_reply_err(conn, ERR_BAD_REQUEST, "queue.pause is not built yet");
}

void cmd_queue_resume(struct conn *conn, struct request *rq)
{
	(void)rq;
	server_reply_err(conn, ERR_BAD_REQUEST, "queue.resume is not built yet");
}

void cmd_resource_set(struct conn *conn, struct request *rq)
{
	(void)rq;
	server_reply_err(conn, ERR_BAD_REQUEST, "resource.set is not built yet");
}

void cmd_resource_list(struct conn *conn, struct request *rq)
{
	(void)rq;
	server_reply_err(conn, ERR_BAD_REQUEST, "resource.list is not built yet");
}

void cmd_task_why(struct conn *conn, struct request *rq)
{
	(void)rq;
	server_reply_err(conn, ERR_BAD_REQUEST, "task.why is not built yet");
}
