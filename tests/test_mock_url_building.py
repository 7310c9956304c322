"""The mock's URL rules build URLs (``url_for``) like Flask's own, though they compile their
builders only when a URL is first built (mockserver.http._routing)."""

from __future__ import annotations

from flask import url_for

from mockserver.http._routing import LazyBuildRule, MockFlask


def small_app() -> MockFlask:
    app = MockFlask("url_building")
    app.add_url_rule("/videos/<video_id>/content", "content", lambda video_id: video_id)
    return app


def test_the_app_uses_the_lazy_rule() -> None:
    app = small_app()
    assert all(isinstance(rule, LazyBuildRule) for rule in app.url_map.iter_rules())


def test_a_url_is_built_and_built_again_the_same() -> None:
    app = small_app()
    with app.test_request_context():
        assert url_for("content", video_id="video_1") == "/videos/video_1/content"
        assert url_for("content", video_id="video_2") == "/videos/video_2/content"
        assert url_for("content", video_id="a b") == "/videos/a%20b/content"


def test_unknown_arguments_become_the_query() -> None:
    app = small_app()
    with app.test_request_context():
        built = url_for("content", video_id="v", variant="thumbnail", n=2)
    assert built == "/videos/v/content?variant=thumbnail&n=2"


def test_a_rule_builds_without_unknown_arguments_when_asked() -> None:
    app = small_app()
    (rule,) = [r for r in app.url_map.iter_rules() if r.endpoint == "content"]
    assert rule.build({"video_id": "v", "extra": "x"}, append_unknown=False) == (
        "",
        "/videos/v/content",
    )


def test_matching_is_unchanged() -> None:
    app = small_app()
    answer = app.test_client().get("/videos/video_9/content")
    assert answer.status_code == 200
    assert answer.get_data(as_text=True) == "video_9"
