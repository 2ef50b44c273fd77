"""Reports and the moderation console through rocketchat-api 3.7.1's unchanged
helpers, against upstream Rocket.Chat 8.x.

Client facts used here (read from its source):

* ``chat_report_message(message_id, description)`` and
  ``moderation_report_user(user_id, description)`` post ``messageId``/``userId``
  and ``description``;
* ``moderation_reports_by_users``, ``moderation_user_reports`` and
  ``moderation_reports(msg_id)`` are ``@paginated("reports")``: generators over
  the items; ``.__wrapped__`` is the single-page method;
* ``moderation_dismiss_reports(user_id=None, msg_id=None)`` posts ``userId``
  when given, else ``msgId``; the other helpers post or query ``userId``,
  ``reportId`` as named.

The suite shares one server, so listings are narrowed with ``selector`` to the
users each test makes.
"""

from rocketchat_API.rocketchat import RocketChat

from conftest import expect_api_error

by_users_page = RocketChat.moderation_reports_by_users.__wrapped__
user_reports_page = RocketChat.moderation_user_reports.__wrapped__


def test_reports_through_the_clients_helpers(server, admin, make_user):
    author, reporter, target = make_user(), make_user(), make_user()
    author_client = server.login(author.username, author.password)
    reporter_client = server.login(reporter.username, reporter.password)
    message = author_client.chat_post_message("rude words", room_id="GENERAL")["message"]

    assert reporter_client.chat_report_message(message["_id"], "rude")["success"] is True
    assert reporter_client.moderation_report_user(target.id, "spam bot")["success"] is True

    # A member may not read the console.
    expect_api_error(
        lambda: by_users_page(reporter_client),
        403,
        "User does not have the permissions required for this action [error-unauthorized]",
    )

    page = by_users_page(admin, selector=author.username)
    assert page["total"] == 1, page
    group = page["reports"][0]
    assert group["userId"] == author.id
    assert group["msgId"] == message["_id"]
    assert group["count"] == 1
    assert group["isUserDeleted"] is False
    listed = list(admin.moderation_reports(message["_id"]))
    assert [r["reportedBy"]["username"] for r in listed] == [reporter.username]
    info = admin.moderation_report_info(listed[0]["_id"])["report"]
    assert info["message"]["msg"] == "rude words"
    messages = admin.moderation_user_reported_messages(author.id)
    assert [m["message"]["_id"] for m in messages["messages"]] == [message["_id"]]

    users = user_reports_page(admin, selector=target.username)
    assert users["total"] == 1
    assert users["reports"][0]["reportedUser"]["_id"] == target.id
    by_id = admin.moderation_user_reports_by_user_id(target.id)
    assert by_id["reports"][0]["description"] == "spam bot"

    # Actions.
    assert admin.moderation_dismiss_user_reports(target.id)["success"] is True
    assert user_reports_page(admin, selector=target.username)["total"] == 0
    assert admin.moderation_user_delete_reported_messages(author.id)["success"] is True
    assert by_users_page(admin, selector=author.username)["total"] == 0
    expect_api_error(
        lambda: admin.chat_get_message(message["_id"]), 400
    )
    expect_api_error(
        lambda: admin.moderation_dismiss_reports(msg_id=message["_id"]),
        400,
        "no-reports-found",
    )
