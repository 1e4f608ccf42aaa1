"""Task routes: declared once (workers/routes.py), the same for the producer backend code sends
through and for the workers' app, and each task reaches its queue only."""
from __future__ import annotations

from kombu import Connection

from backend.common.background import producer
from workers.celery import app
from workers.routes import ML_QUEUE, QUEUES, ROUTES


def _route(celery_app, name: str) -> tuple[str, str, str]:
    queue = celery_app.amqp.router.route({}, name, args=(), kwargs={})["queue"]
    return queue.name, queue.exchange.name, queue.routing_key


def test_the_producer_and_the_workers_route_every_task_alike():
    app.loader.import_default_modules()
    names = [name for name in app.tasks if name.startswith("mmit.")]
    assert len(names) > 15 and set(ROUTES) <= set(names)
    for name in names:
        assert _route(producer(), name) == _route(app, name), name
    assert {_route(app, name)[0] for name in names} == set(QUEUES)
    assert {name for name in names if _route(app, name)[0] == ML_QUEUE} == set(ROUTES)


def test_a_task_reaches_its_own_queue_and_no_other():
    """Sent through the producer, as backend code sends it, to the queues as the worker declares them."""
    with Connection("memory://") as conn, conn.channel() as channel:
        queues = {q.name: q.bind(channel) for q in app.amqp.queues.values()}  # as the worker declares them
        for queue in queues.values():
            queue.declare()
        producer().send_task("mmit.videos.import_videos", args=["job", 1, "/x", None], connection=conn)
        producer().send_task("mmit.training.train_run", args=[1], connection=conn)
        received = {name: [] for name in queues}
        for name, queue in queues.items():
            while (message := queue.get(no_ack=True)) is not None:
                received[name].append(message.headers["task"])
    assert received == {"default": ["mmit.videos.import_videos"], "ml": ["mmit.training.train_run"]}
