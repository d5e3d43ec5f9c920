"""``trustseal demo`` loads a living merchant, once."""

from __future__ import annotations


def test_demo_loads_purchases_reviews_and_a_sound_log(runner, client):
    first = runner.invoke(args=["demo", "--purchases", "60"])
    assert first.exit_code == 0, first.output
    assert "tienda-demo" in first.output and "api key: tsk_" in first.output
    assert runner.invoke(args=["demo"]).output.startswith("demo already loaded")
    score = client.get("/api/v1/merchants/tienda-demo/score").json
    assert score["rating_count"] > 5 and score["removed_count"] == 1
    assert client.get("/m/tienda-demo").status_code == 200
    assert runner.invoke(args=["log", "verify"]).exit_code == 0


def test_the_demo_sends_review_invitations_at_once(app, runner, tmp_path):
    """The demo's deliveries are days old: their invitation emails are due now, so the
    worker beside ``make run`` puts them in the outbox at once."""
    from trustseal.jobs import service as jobs

    app.config["TRUSTSEAL_OUTBOX_DIR"] = str(tmp_path)
    assert runner.invoke(args=["demo", "--purchases", "30"]).exit_code == 0
    with app.app_context():
        jobs.run_due_jobs()
    sent = [path.read_text() for path in tmp_path.glob("*.eml")]
    assert any("/r/" in message for message in sent), "an invitation with its review link"
