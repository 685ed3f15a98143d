import pytest

from agent_runtime.observe.redact import (
    MASK,
    find_secrets,
    key_env_names,
    redact_headers,
    redact_json,
    redact_text,
    redact_url,
)

NO_ENV: dict[str, str] = {}


def test_credential_headers_masked_case_insensitively():
    out = redact_headers(
        {
            "Authorization": "Bearer sk-proj-abcdefghijklmnop",
            "X-Api-Key": "plainsecretvalue",
            "api-key": "azurekey1",
            "Cookie": "session=abc",
            "set-cookie": "id=1",
            "OpenAI-Organization": "org-123",
            "content-type": "application/json",
        },
        NO_ENV,
    )
    assert out["Authorization"] == f"Bearer {MASK}"
    assert (
        out["X-Api-Key"] == out["api-key"] == out["Cookie"] == out["set-cookie"] == out["OpenAI-Organization"] == MASK
    )
    assert out["content-type"] == "application/json"


def test_other_header_values_scanned_for_keys():
    assert redact_headers([("x-debug", "used sk-ant-api03-ABCDEFGHIJKLMN")], NO_ENV) == {"x-debug": f"used {MASK}"}


def test_url_query_credentials_masked():
    url = redact_url("https://generativelanguage.example/v1/models?key=AIzaXYZ&alt=sse&api_key=a&token=t", NO_ENV)
    assert "AIzaXYZ" not in url and "alt=sse" in url
    assert url.count(MASK) == 3
    assert redact_url("https://user:hunter2@host.test/x", NO_ENV) == f"https://user:{MASK}@host.test/x"


def test_json_fields_masked_at_any_depth_but_counts_survive():
    body = {
        "model": "m",
        "max_tokens": 100,
        "usage": {"input_tokens": 3},
        "auth": {"api_key": "abc", "Password": "p", "nested": [{"token": "t", "secret": "s"}]},
        "tools": [{"parameters": {"properties": {"key": {"type": "string"}}}}],
        "messages": [{"content": "my key is sk-or-v1-0123456789abcdef"}],
    }
    out = redact_json(body, NO_ENV)
    assert out["max_tokens"] == 100 and out["usage"] == {"input_tokens": 3}
    assert out["auth"]["api_key"] == out["auth"]["Password"] == MASK
    assert out["auth"]["nested"] == [{"token": MASK, "secret": MASK}]
    assert out["tools"][0]["parameters"]["properties"]["key"] == {"type": "string"}  # a schema, not a secret
    assert out["messages"][0]["content"] == f"my key is {MASK}"
    assert body["auth"]["api_key"] == "abc"  # the input is untouched


@pytest.mark.parametrize(
    "secret",
    [
        "sk-proj-AbCdEfGhIjKlMnOp1234",
        "sk-ant-api03-Zz9_-aaaaaaaaaa",
        "sk-or-v1-0123456789abcdef0123",
        "sk-0123456789abcdefABCDEF",
        "gsk_0123456789abcdefghij",
        "AIza" + "B" * 35,
    ],
)
def test_key_shaped_values_found_and_removed(secret):
    text = f'error: "Incorrect API key provided: {secret}." see docs'
    assert find_secrets(text, NO_ENV) == [secret]
    assert secret not in redact_text(text, NO_ENV)
    assert find_secrets(redact_text(text, NO_ENV), NO_ENV) == []


def test_bearer_tokens_of_any_shape():
    assert redact_text("Authorization: Bearer abc.def-ghi_jkl", NO_ENV) == f"Authorization: Bearer {MASK}"


def test_ordinary_words_survive():
    text = "risk-assessment task-complete desk-lamp sk-short max_tokens=5 Incorrect API key provided: sk-…"
    assert redact_text(text, NO_ENV) == text
    assert find_secrets(text, NO_ENV) == []


def test_literal_env_key_values_redacted_anywhere():
    env = {"OPENROUTER_API_KEY": "not-key-shaped-at-all-42", "GROQ_API_KEY": "short", "HOME": "/root/homedir"}
    text = "sent not-key-shaped-at-all-42 to /root/homedir with short"
    assert redact_text(text, env) == f"sent {MASK} to /root/homedir with short"
    assert find_secrets(text, env) == ["not-key-shaped-at-all-42"]


def test_env_defaults_to_process_environment(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "plain-looking-value-77")
    assert redact_text("x plain-looking-value-77 y") == f"x {MASK} y"


def test_every_provider_key_variable_is_covered():
    from agent_runtime.providers import PROVIDERS

    assert {p.key_env for p in PROVIDERS.values()} <= set(key_env_names())


def test_redaction_is_idempotent():
    once = redact_text("Bearer sk-ant-abcdefghijkl and sk-proj-0123456789abcdef", NO_ENV)
    assert redact_text(once, NO_ENV) == once


def test_json_redaction_keeps_masked_header_values():
    headers = redact_headers({"authorization": "Bearer sk-test-0123456789"}, NO_ENV)
    assert redact_json({"headers": headers}, NO_ENV) == {"headers": {"authorization": f"Bearer {MASK}"}}
    assert redact_json({"authorization": "Bearer-ish-raw"}, NO_ENV) == {"authorization": MASK}
    assert redact_json({"password": f"hunter2 x {MASK}"}, NO_ENV) == {"password": MASK}
