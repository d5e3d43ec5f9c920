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
