
/*
 * ngx_http_llm_router_module: tests of the Mistral adapter's mappings
 * (docs/providers/mistral.md): roles, tool-call ids, field decisions,
 * answers normalised to the OpenAI shape.
 */


#include <stdio.h>
#include <string.h>

#include "test_util.h"


#define TEST_KEY  "sk-test-0123456789"


static int test_mistral_try(test_ctx_t *ctx, const char *json,
    const char *model, llm_http_request_t *out, llm_error_t *err);
static const char *test_mistral_body(test_ctx_t *ctx, const char *json,
    const char *model);
static cJSON *test_mistral_tree(test_ctx_t *ctx, const char *json,
    const char *model);
static void test_mistral_reject(test_ctx_t *ctx, const char *json,
    const char *param, const char *text);
static const char *test_msg_str(const cJSON *root, int i, const char *name);
static const char *test_call_id(const cJSON *root, int i, int k);
static int test_id_ok(const char *id);
static void test_mistral_developer(void **state);
static void test_mistral_lean_fields(void **state);
static void test_mistral_raw_kept(void **state);
static void test_mistral_ids(void **state);
static void test_mistral_ids_valid_kept(void **state);
static void test_mistral_ids_collision(void **state);
static void test_mistral_ids_per_type(void **state);
static void test_mistral_tool_choice(void **state);
static void test_mistral_name(void **state);
static void test_mistral_assistant_fields(void **state);
static void test_mistral_dropped(void **state);
static void test_mistral_rejected(void **state);
static void test_mistral_prefix(void **state);
static void test_mistral_rewrite_nomem(void **state);
static void test_mistral_decode_logprobs(void **state);
static void test_mistral_decode_relayed(void **state);
static void test_mistral_decode_errors(void **state);
static void test_mistral_stream_logprobs(void **state);
static void test_mistral_stream_split(void **state);


#define TOOLS_MSGS                                                            \
    "\"messages\":[{\"role\":\"user\",\"content\":\"weather?\"},"             \
    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["               \
    "{\"id\":\"call_AbC123xyz0000\",\"type\":\"function\",\"function\":"      \
    "{\"name\":\"w\",\"arguments\":\"{}\"}},"                                 \
    "{\"id\":\"toolu_01XYZ\",\"type\":\"function\",\"function\":"             \
    "{\"name\":\"w\",\"arguments\":\"{}\"}}]},"                               \
    "{\"role\":\"tool\",\"tool_call_id\":\"call_AbC123xyz0000\","             \
    "\"content\":\"5C\"},"                                                    \
    "{\"role\":\"tool\",\"tool_call_id\":\"toolu_01XYZ\",\"content\":\"6C\"}]"


static int
test_mistral_try(test_ctx_t *ctx, const char *json, const char *model,
    llm_http_request_t *out, llm_error_t *err)
{
    int             rc;
    char           *body;
    size_t          len;
    llm_request_t   req;
    llm_provider_t  p;

    len = strlen(json);
    body = test_copy(ctx, json, len);

    if (llm_request_parse(&req, body, len, err) != LLM_OK) {
        fail_msg("rejected by the parser: %s", err->message);
    }

    memset(&p, 0, sizeof(llm_provider_t));
    p.name = "mistral";
    p.model = model;
    p.api_key = TEST_KEY;
    p.base_path = "/v1";

    memset(out, 0, sizeof(llm_http_request_t));

    rc = llm_mistral_adapter.encode(&req, &p, &ctx->pool, out, err);

    if (rc == LLM_OK && out->body == NULL) {
        out->body = (char *) llm_http_body(out, &ctx->pool);
    }

    if (rc == LLM_OK) {
        out->body = test_cstr(ctx, out->body, out->body_len);
    }

    llm_request_free(&req);

    return rc;
}


static const char *
test_mistral_body(test_ctx_t *ctx, const char *json, const char *model)
{
    llm_error_t         err;
    llm_http_request_t  out;

    if (test_mistral_try(ctx, json, model, &out, &err) != LLM_OK) {
        fail_msg("encode failed: %s", err.message);
    }

    return out.body;
}


static cJSON *
test_mistral_tree(test_ctx_t *ctx, const char *json, const char *model)
{
    const char  *body;

    body = test_mistral_body(ctx, json, model);

    /* the rewritten body is strict JSON */

    if (llm_json_validate(body, strlen(body), NULL) != LLM_OK) {
        fail_msg("not JSON: %s", body);
    }

    return test_json(body, strlen(body));
}


static void
test_mistral_reject(test_ctx_t *ctx, const char *json, const char *param,
    const char *text)
{
    llm_error_t         err;
    llm_http_request_t  out;

    assert_int_equal(test_mistral_try(ctx, json, NULL, &out, &err),
                     LLM_ERROR);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.type, "invalid_request_error");

    if (param == NULL) {
        assert_null(err.param);

    } else {
        assert_string_equal(err.param, param);
    }

    if (strstr(err.message, text) == NULL) {
        fail_msg("\"%s\" not in \"%s\"", text, err.message);
    }
}


static const char *
test_msg_str(const cJSON *root, int i, const char *name)
{
    return llm_json_str(cJSON_GetArrayItem(
               cJSON_GetObjectItemCaseSensitive(root, "messages"), i), name);
}


static const char *
test_call_id(const cJSON *root, int i, int k)
{
    const cJSON  *m;

    m = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root,
                                                            "messages"), i);

    return llm_json_str(cJSON_GetArrayItem(
               cJSON_GetObjectItemCaseSensitive(m, "tool_calls"), k), "id");
}


static int
test_id_ok(const char *id)
{
    size_t  i;

    if (id == NULL || strlen(id) != 9) {
        return 0;
    }

    for (i = 0; i < 9; i++) {
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'z')
              || (id[i] >= 'A' && id[i] <= 'Z')))
        {
            return 0;
        }
    }

    return 1;
}


static void
test_mistral_developer(void **state)
{
    cJSON  *root;

    root = test_mistral_tree(*state,
        "{\"model\":\"m\",\"messages\":["
        "{\"role\":\"developer\",\"content\":\"Be terse.\"},"
        "{\"role\":\"system\",\"content\":\"Be kind.\"},"
        "{\"content\":\"hi\",\"role\":\"user\"}]}", NULL);

    assert_string_equal(test_msg_str(root, 0, "role"), "system");
    assert_string_equal(test_msg_str(root, 0, "content"), "Be terse.");
    assert_string_equal(test_msg_str(root, 1, "role"), "system");
    assert_string_equal(test_msg_str(root, 2, "role"), "user");
    assert_string_equal(test_msg_str(root, 2, "content"), "hi");
    assert_string_equal(llm_json_str(root, "model"), "m");

    cJSON_Delete(root);
}


/* fields Mistral takes as OpenAI sends them: the client's bytes */

static void
test_mistral_lean_fields(void **state)
{
    char                *body;
    size_t               len;
    test_ctx_t          *ctx;
    const char          *json;
    llm_error_t          err;
    llm_request_t        req;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    /* nothing to change: the same bytes */

    json = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
           "\"hi\"},{\"role\":\"assistant\",\"content\":\"Sure\","
           "\"prefix\":true}],\"n\":2,\"parallel_tool_calls\":false,"
           "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
           "{\"name\":\"s\",\"schema\":{\"type\":\"object\"},\"strict\":true}},"
           "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":"
           "\"f\"}},\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
           "\"f\"}}],\"prediction\":{\"type\":\"content\",\"content\":\"x\"},"
           "\"stop\":[\"\\n\"],\"temperature\":0.2,\"safe_prompt\":true}";

    len = strlen(json);
    body = test_copy(ctx, json, len);

    assert_int_equal(llm_request_parse(&req, body, len, &err), LLM_OK);

    memset(&p, 0, sizeof(llm_provider_t));
    p.name = "mistral";
    p.api_key = TEST_KEY;
    p.base_path = "/v1";

    assert_int_equal(llm_mistral_adapter.encode(&req, &p, &ctx->pool, &out,
                                                &err), LLM_OK);
    assert_ptr_equal(out.body, body);
    assert_int_equal(out.body_len, len);

    llm_request_free(&req);
}


/* a rewritten body keeps every byte it does not change */

static void
test_mistral_raw_kept(void **state)
{
    const char  *body;

    body = test_mistral_body(*state,
        "{ \"messages\" : [ { \"role\" : \"developer\" , \"content\" :"
        " \"caf\\u00e9 \\\"q\\\" \xc3\xa9\" } , {\"role\":\"user\","
        "\"content\":[{\"type\":\"text\",\"text\":\"a\\nb\"}]} ] ,"
        " \"temperature\" : 0.70000000000000001 ,"
        " \"max_tokens\" : 64 , \"seed\" : 9007199254740993"
        " }", "mistral-small");

    assert_string_equal(body,
        "{\"model\":\"mistral-small\",\"messages\" : [{\"role\":\"system\","
        "\"content\" : \"caf\\u00e9 \\\"q\\\" \xc3\xa9\"},{\"role\":\"user\","
        "\"content\":[{\"type\":\"text\",\"text\":\"a\\nb\"}]}],"
        "\"temperature\" : 0.70000000000000001,"
        "\"max_tokens\" : 64,"
        "\"random_seed\":9007199254740993}");
}


static void
test_mistral_ids(void **state)
{
    cJSON       *root, *again;
    const char  *a, *b;

    root = test_mistral_tree(*state, "{\"model\":\"m\"," TOOLS_MSGS "}",
                             NULL);

    a = test_call_id(root, 1, 0);
    b = test_call_id(root, 1, 1);

    assert_true(test_id_ok(a));
    assert_true(test_id_ok(b));
    assert_string_not_equal(a, b);

    /* each tool result answers its own call */

    assert_string_equal(test_msg_str(root, 2, "tool_call_id"), a);
    assert_string_equal(test_msg_str(root, 3, "tool_call_id"), b);

    /* the rest of the calls is as it was */

    assert_string_equal(llm_json_str(cJSON_GetArrayItem(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(
            cJSON_GetObjectItemCaseSensitive(root, "messages"), 1),
            "tool_calls"), 0), "type"), "function");

    /* deterministic: the same history, the same ids, in another request */

    again = test_mistral_tree(*state,
        "{\"model\":\"m\",\"stream\":true," TOOLS_MSGS ",\"n\":1}", "x");

    assert_string_equal(test_call_id(again, 1, 0), a);
    assert_string_equal(test_msg_str(again, 3, "tool_call_id"), b);

    cJSON_Delete(again);
    cJSON_Delete(root);

    /* an escaped id is the same id */

    root = test_mistral_tree(*state,
        "{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":"
        "\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\","
        "\"arguments\":\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":"
        "\"call\\u005f1\",\"content\":\"r\"}]}", NULL);

    assert_true(test_id_ok(test_call_id(root, 0, 0)));
    assert_string_equal(test_msg_str(root, 1, "tool_call_id"),
                        test_call_id(root, 0, 0));

    cJSON_Delete(root);
}


/* ids Mistral made (9 alphanumerics) go back as they are */

static void
test_mistral_ids_valid_kept(void **state)
{
    char                *json;
    const char          *body;
    test_ctx_t          *ctx;
    llm_error_t          err;
    llm_http_request_t   out;

    ctx = *state;

    json = "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},"
           "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"D681PevKs\","
           "\"type\":\"function\",\"function\":{\"name\":\"f\","
           "\"arguments\":\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":"
           "\"D681PevKs\",\"content\":\"r\"}]}";

    assert_int_equal(test_mistral_try(ctx, json, NULL, &out, &err), LLM_OK);

    /* nothing to change: the lean path */
    assert_string_equal(out.body, json);

    body = test_mistral_body(ctx,
        "{\"messages\":[{\"role\":\"developer\",\"content\":\"s\"},"
        "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"D681PevKs\","
        "\"type\":\"function\",\"function\":{\"name\":\"f\","
        "\"arguments\":\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":"
        "\"D681PevKs\",\"content\":\"r\"}]}", NULL);

    assert_non_null(strstr(body, "\"id\":\"D681PevKs\""));
    assert_non_null(strstr(body, "\"tool_call_id\":\"D681PevKs\""));

    /* 8 or 10 characters, or not alphanumeric: mapped */

    body = test_mistral_body(ctx,
        "{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":"
        "\"D681PevK\",\"type\":\"function\",\"function\":{\"name\":\"f\","
        "\"arguments\":\"{}\"}},{\"id\":\"D681PevKs0\",\"type\":"
        "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}},"
        "{\"id\":\"D681-evKs\",\"type\":\"function\",\"function\":{\"name\":"
        "\"f\",\"arguments\":\"{}\"}}]},{\"role\":\"user\","
        "\"content\":\"go\"}]}", NULL);

    assert_null(strstr(body, "D681PevK\""));
    assert_null(strstr(body, "D681PevKs0"));
    assert_null(strstr(body, "D681-evKs"));
}


/*
 * A kept id that equals the mapping of another id: the kept one wins,
 * the other gets the next candidate, the same in its call and its result.
 */

static void
test_mistral_ids_collision(void **state)
{
    char         json[1024], *p;
    cJSON       *root, *two, *three;
    const char  *mapped, *other;
    test_ctx_t  *ctx;

    ctx = *state;

    root = test_mistral_tree(ctx,
        "{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":"
        "\"call_x\",\"type\":\"function\",\"function\":{\"name\":\"f\","
        "\"arguments\":\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":"
        "\"call_x\",\"content\":\"r\"}]}", NULL);

    mapped = test_call_id(root, 0, 0);
    assert_true(test_id_ok(mapped));

    /* the same conversation, with a later call whose id is that value */

    p = json;
    p += sprintf(p,
        "{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":"
        "\"call_x\",\"type\":\"function\",\"function\":{\"name\":\"f\","
        "\"arguments\":\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":"
        "\"call_x\",\"content\":\"r\"},"
        "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"%s\","
        "\"type\":\"function\",\"function\":{\"name\":\"f\","
        "\"arguments\":\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":"
        "\"%s\",\"content\":\"r2\"}]}", mapped, mapped);

    two = test_mistral_tree(ctx, json, NULL);

    other = test_call_id(two, 0, 0);

    assert_true(test_id_ok(other));
    assert_string_not_equal(other, mapped);
    assert_string_equal(test_msg_str(two, 1, "tool_call_id"), other);
    assert_string_equal(test_call_id(two, 2, 0), mapped);
    assert_string_equal(test_msg_str(two, 3, "tool_call_id"), mapped);

    /* and deterministic */

    three = test_mistral_tree(ctx, json, NULL);
    assert_string_equal(test_call_id(three, 0, 0), other);

    cJSON_Delete(three);
    cJSON_Delete(two);
    cJSON_Delete(root);
}


/* failover: the OpenAI encoding of the same request is not touched */

static void
test_mistral_ids_per_type(void **state)
{
    char                *body;
    size_t               len;
    test_ctx_t          *ctx;
    const char          *json, *m;
    llm_error_t          err;
    llm_request_t        req;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    json = "{\"model\":\"m\"," TOOLS_MSGS ",\"seed\":1}";
    len = strlen(json);
    body = test_copy(ctx, json, len);

    assert_int_equal(llm_request_parse(&req, body, len, &err), LLM_OK);

    memset(&p, 0, sizeof(llm_provider_t));
    p.name = "p";
    p.api_key = TEST_KEY;
    p.base_path = "";

    assert_int_equal(llm_mistral_adapter.encode(&req, &p, &ctx->pool, &out,
                                                &err), LLM_OK);
    m = test_cstr(ctx, out.body, out.body_len);
    assert_null(strstr(m, "call_AbC"));
    assert_non_null(strstr(m, "random_seed"));

    memset(&out, 0, sizeof(llm_http_request_t));

    assert_int_equal(llm_openai_adapter.encode(&req, &p, &ctx->pool, &out,
                                               &err), LLM_OK);
    assert_ptr_equal(out.body, body);

    /* and the client's bytes were not written to */
    assert_memory_equal(body, json, len);

    llm_request_free(&req);
}


static void
test_mistral_tool_choice(void **state)
{
    cJSON  *root;

    root = test_mistral_tree(*state,
        "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],"
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
        "\"tool_choice\":\"required\"}", NULL);

    assert_string_equal(llm_json_str(root, "tool_choice"), "any");

    cJSON_Delete(root);

    test_mistral_reject(*state,
        "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],"
        "\"tool_choice\":{\"type\":\"allowed_tools\",\"allowed_tools\":"
        "{\"mode\":\"auto\",\"tools\":[]}}}", "tool_choice", "tool_choice");

    test_mistral_reject(*state,
        "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],"
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}},"
        "{\"type\":\"custom\",\"custom\":{\"name\":\"g\"}}]}", "tools",
        "tools[1]");
}


/* "name": kept on tool messages, dropped on the others */

static void
test_mistral_name(void **state)
{
    cJSON  *root;

    root = test_mistral_tree(*state,
        "{\"messages\":[{\"role\":\"system\",\"content\":\"s\","
        "\"name\":\"a\"},{\"role\":\"user\",\"name\":\"bob\","
        "\"content\":\"q\"},{\"role\":\"assistant\",\"content\":null,"
        "\"name\":\"x\",\"tool_calls\":[{\"id\":\"abcdefghi\",\"type\":"
        "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"abcdefghi\",\"name\":\"f\","
        "\"content\":\"r\"}]}", NULL);

    assert_null(test_msg_str(root, 0, "name"));
    assert_null(test_msg_str(root, 1, "name"));
    assert_string_equal(test_msg_str(root, 1, "content"), "q");
    assert_null(test_msg_str(root, 2, "name"));
    assert_string_equal(test_msg_str(root, 3, "name"), "f");
    assert_string_equal(test_msg_str(root, 3, "tool_call_id"), "abcdefghi");

    cJSON_Delete(root);
}


/* a replayed OpenAI answer: its output-only fields are not sent */

static void
test_mistral_assistant_fields(void **state)
{
    cJSON        *root;
    const cJSON  *m;

    root = test_mistral_tree(*state,
        "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},"
        "{\"role\":\"assistant\",\"content\":\"a\",\"refusal\":null,"
        "\"annotations\":[],\"audio\":null,\"function_call\":null,"
        "\"reasoning_content\":\"hm\"},{\"role\":\"user\","
        "\"content\":\"q2\"}]}", NULL);

    m = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root,
                                                            "messages"), 1);

    assert_int_equal(cJSON_GetArraySize(m), 2);
    assert_string_equal(llm_json_str(m, "role"), "assistant");
    assert_string_equal(llm_json_str(m, "content"), "a");

    cJSON_Delete(root);

    test_mistral_reject(*state,
        "{\"messages\":[{\"role\":\"assistant\",\"content\":null,"
        "\"function_call\":{\"name\":\"f\",\"arguments\":\"{}\"}},"
        "{\"role\":\"user\",\"content\":\"q\"}]}", "messages",
        "messages[0]: 'function_call'");
}


static void
test_mistral_dropped(void **state)
{
    cJSON  *root;

    root = test_mistral_tree(*state,
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"q\"}],\"logprobs\":false,\"top_logprobs\":0,\"metadata\":"
        "{\"k\":\"v\"},\"reasoning_effort\":\"low\",\"modalities\":"
        "[\"text\"],\"prompt_cache_key\":\"k\",\"safety_identifier\":\"s\","
        "\"verbosity\":\"low\",\"functions\":null,\"max_completion_tokens\":"
        "null,\"max_tokens\":7,\"n\":3}", NULL);

    assert_int_equal(cJSON_GetArraySize(root), 4);
    assert_string_equal(llm_json_str(root, "model"), "m");
    assert_int_equal(
        cJSON_GetObjectItemCaseSensitive(root, "max_tokens")->valueint, 7);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(root, "n")->valueint,
                     3);

    cJSON_Delete(root);

    /* max_tokens null beside max_completion_tokens: the value wins */

    root = test_mistral_tree(*state,
        "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],"
        "\"max_tokens\":null,\"max_completion_tokens\":9}", NULL);

    assert_int_equal(cJSON_GetArraySize(root), 2);
    assert_int_equal(
        cJSON_GetObjectItemCaseSensitive(root, "max_tokens")->valueint, 9);

    cJSON_Delete(root);
}


static void
test_mistral_rejected(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    test_mistral_reject(ctx,
        "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],"
        "\"logprobs\":true,\"top_logprobs\":2}", "logprobs", "logprobs");

    test_mistral_reject(ctx,
        "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],"
        "\"functions\":[{\"name\":\"f\"}]}", "functions", "use 'tools'");

    test_mistral_reject(ctx,
        "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],"
        "\"audio\":{\"voice\":\"alloy\",\"format\":\"wav\"}}",
        "audio", "audio");

    test_mistral_reject(ctx,
        "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],"
        "\"modalities\":[\"text\",\"audio\"]}", "modalities", "text only");

    test_mistral_reject(ctx,
        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
        "\"text\":\"q\"},{\"type\":\"input_audio\",\"input_audio\":"
        "{\"data\":\"AAAA\",\"format\":\"wav\"}}]}]}", "messages",
        "messages[0]: \"input_audio\"");

    test_mistral_reject(ctx,
        "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],"
        "\"web_search_options\":{}}", "web_search_options",
        "web_search_options");
}


static void
test_mistral_prefix(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    test_mistral_reject(ctx,
        "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},"
        "{\"role\":\"assistant\",\"content\":\"The answer is\"}]}",
        "messages", "\"prefix\": true");

    test_mistral_reject(ctx,
        "{\"messages\":[{\"role\":\"user\",\"content\":\"q\","
        "\"prefix\":true}]}", "messages", "assistant messages only");

    /* an assistant message with prefix: true may end the conversation */

    assert_non_null(test_mistral_body(ctx,
        "{\"messages\":[{\"role\":\"developer\",\"content\":\"s\"},"
        "{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\","
        "\"content\":\"The answer is\",\"prefix\":true}]}", NULL));
}


/* every allocation in turn fails: an error each time, then success */

static void
test_mistral_rewrite_nomem(void **state)
{
    int                  rc;
    size_t               n;
    test_ctx_t          *ctx;
    llm_error_t          err;
    llm_http_request_t   out;

    ctx = *state;

    for (n = 1; n < 100; n++) {
        ctx->count = 0;
        ctx->fail_at = n;

        rc = test_mistral_try(ctx, "{\"model\":\"m\"," TOOLS_MSGS
                              ",\"seed\":3}", "mm", &out, &err);

        if (rc == LLM_OK) {
            break;
        }

        assert_int_equal(err.status, 500);
        assert_string_equal(err.message, "out of memory");
    }

    ctx->fail_at = 0;

    assert_true(n > 1);
    assert_int_equal(rc, LLM_OK);
}


static const char  test_mistral_answer[] =
    "{\"id\":\"9f1c-t1\",\"object\":\"chat.completion\",\"created\":"
    "1767225600,\"model\":\"mistral-small-latest\",\"choices\":[{\"index\":"
    "0,\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":"
    "[{\"id\":\"D681PevKs\",\"function\":{\"name\":\"w\",\"arguments\":"
    "\"{\\\"c\\\":1}\"},\"index\":0}]},\"finish_reason\":\"tool_calls\"},"
    "{\"index\":1,\"message\":{\"role\":\"assistant\",\"content\":\"4 C\"},"
    "\"finish_reason\":\"model_length\"}],\"usage\":{\"prompt_tokens\":21,"
    "\"completion_tokens\":7,\"total_tokens\":28}}";


static void
test_mistral_decode_logprobs(void **state)
{
    cJSON           *root, *choice, *call;
    test_ctx_t      *ctx;
    llm_error_t      err;
    llm_response_t   resp;

    ctx = *state;

    assert_int_equal(llm_mistral_adapter.decode(NULL, NULL,
                         test_mistral_answer, TEST_LEN(test_mistral_answer),
                         1, &ctx->pool, &resp, &err), LLM_OK);

    root = test_json(resp.body, resp.body_len);

    choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root,
                                                                 "choices"),
                                0);

    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(choice,
                                                              "logprobs")));

    call = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(
               cJSON_GetObjectItemCaseSensitive(choice, "message"),
               "tool_calls"), 0);

    /* Mistral's id is a valid OpenAI id: kept */
    assert_string_equal(llm_json_str(call, "id"), "D681PevKs");
    assert_string_equal(llm_json_str(call, "type"), "function");

    choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root,
                                                                 "choices"),
                                1);

    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(choice,
                                                              "logprobs")));
    assert_string_equal(llm_json_str(choice, "finish_reason"), "length");
    assert_string_equal(llm_json_str(root, "id"), "9f1c-t1");
    assert_int_equal(
        cJSON_GetObjectItemCaseSensitive(root, "created")->valuedouble,
        1767225600);

    assert_string_equal(resp.finish_reason, "tool_calls");
    assert_true(resp.usage.prompt_tokens == 21);
    assert_true(resp.usage.completion_tokens == 7);
    assert_null(resp.content);

    cJSON_Delete(root);
}


/* an answer with nothing missing is relayed as it is */

static void
test_mistral_decode_relayed(void **state)
{
    test_ctx_t      *ctx;
    const char      *body;
    llm_error_t      err;
    llm_response_t   resp;

    ctx = *state;

    body = "{\"id\":\"x\",\"object\":\"chat.completion\",\"created\":1,"
           "\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
           "\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Hel\"},"
           "{\"type\":\"text\",\"text\":\"lo\"}]},\"logprobs\":null,"
           "\"finish_reason\":\"stop\"}]}";

    assert_int_equal(llm_mistral_adapter.decode(NULL, NULL, body,
                         strlen(body), 1, &ctx->pool, &resp, &err), LLM_OK);

    assert_ptr_equal(resp.body, body);
    assert_int_equal(resp.body_len, strlen(body));
    assert_string_equal(resp.finish_reason, "stop");
    assert_int_equal(resp.content_len, 5);
    assert_memory_equal(resp.content, "Hello", 5);
    assert_true(resp.usage.prompt_tokens == -1);
}


static void
test_mistral_decode_errors(void **state)
{
    size_t           i;
    test_ctx_t      *ctx;
    llm_error_t      err;
    llm_response_t   resp;

    static const char  *const bad[] = {
        "not json",
        "{\"choices\":{}}",
        "[1]",
        "{\"choices\":[1]}",
        "{\"choices\":[{\"finish_reason\":\"sleepy\"}]}",
        "{\"object\":\"error\",\"message\":\"x\"}",
    };

    ctx = *state;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(llm_mistral_adapter.decode(NULL, NULL, bad[i],
                             strlen(bad[i]), 1, &ctx->pool, &resp, &err),
                         LLM_ERROR);
        assert_int_equal(err.status, 502);
        assert_string_equal(err.code, "invalid_provider_response");
    }

    assert_int_equal(llm_mistral_adapter.decode(NULL, NULL,
                         "{\"choices\":[{\"finish_reason\":\"error\"}]}",
                         TEST_LEN("{\"choices\":[{\"finish_reason\":"
                                  "\"error\"}]}"),
                         1, &ctx->pool, &resp, &err), LLM_ERROR);
    assert_int_equal(err.status, 502);
    assert_string_equal(err.type, "server_error");
}


static const char  test_mistral_sse[] =
    "data: {\"id\":\"s1\",\"object\":\"chat.completion.chunk\",\"created\":"
    "1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
    "\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"s1\",\"object\":\"chat.completion.chunk\",\"created\":"
    "1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
    "\"Hel\\nlo\"},\"finish_reason\":null},{\"index\":1,\"delta\":"
    "{\"content\":\"x\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"s1\",\"object\":\"chat.completion.chunk\",\"created\":"
    "1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":"
    "[{\"id\":\"D681PevKs\",\"function\":{\"name\":\"w\",\"arguments\":"
    "\"{}\"},\"index\":0}]},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"s1\",\"object\":\"chat.completion.chunk\",\"created\":"
    "1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
    "\"!\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,"
    "\"completion_tokens\":4,\"total_tokens\":7}}\n\n"
    "data: [DONE]\n\n";


/* every chunk's choices have "logprobs"; the stream ends with [DONE] */

static void
test_mistral_stream_logprobs(void **state)
{
    int                 events;
    char               *data, *line, *end;
    cJSON              *root, *choice, *calls;
    test_stream_run_t   run;

    test_stream_run(*state, &llm_mistral_adapter, test_mistral_sse, 1, 0,
                    NULL, 0, &run);

    assert_int_equal(run.rc, LLM_DONE);

    data = test_cstr(*state, run.out.buf, run.out.len);
    events = 0;

    for (line = data; (end = strstr(line, "\n\n")) != NULL; line = end + 2) {
        *end = '\0';

        assert_memory_equal(line, "data: ", 6);

        if (strcmp(line + 6, "[DONE]") == 0) {
            assert_string_equal(end + 2, "");
            break;
        }

        root = test_json(line + 6, strlen(line + 6));

        for (choice = cJSON_GetObjectItemCaseSensitive(root,
                                                       "choices")->child;
             choice != NULL;
             choice = choice->next)
        {
            assert_non_null(cJSON_GetObjectItemCaseSensitive(choice,
                                                             "logprobs"));
        }

        choice = cJSON_GetObjectItemCaseSensitive(root, "choices")->child;
        calls = cJSON_GetObjectItemCaseSensitive(
                    cJSON_GetObjectItemCaseSensitive(choice, "delta"),
                    "tool_calls");

        if (calls != NULL) {
            /* Mistral's id is a valid OpenAI id: kept */
            assert_string_equal(llm_json_str(calls->child, "id"),
                                "D681PevKs");
        }

        cJSON_Delete(root);
        events++;
    }

    /* four chunks, the usage chunk */
    assert_int_equal(events, 5);
}


/* the same output, however the provider's bytes are split */

static void
test_mistral_stream_split(void **state)
{
    size_t              step;
    test_stream_run_t  *whole, *run;

    whole = (test_stream_run_t *) test_copy(*state, NULL,
                                            sizeof(test_stream_run_t));
    run = (test_stream_run_t *) test_copy(*state, NULL,
                                          sizeof(test_stream_run_t));

    test_stream_run(*state, &llm_mistral_adapter, test_mistral_sse, 0, 0,
                    NULL, 0, whole);

    assert_int_equal(whole->rc, LLM_DONE);

    for (step = 1; step < TEST_LEN(test_mistral_sse); step++) {
        test_stream_run(*state, &llm_mistral_adapter, test_mistral_sse, 0,
                        step, NULL, 0, run);

        assert_int_equal(run->rc, LLM_DONE);
        assert_int_equal(run->out.len, whole->out.len);
        assert_memory_equal(run->out.buf, whole->out.buf, whole->out.len);
    }
}


void
test_mistral_register(void)
{
    TEST_ADD(test_mistral_developer);
    TEST_ADD(test_mistral_lean_fields);
    TEST_ADD(test_mistral_raw_kept);
    TEST_ADD(test_mistral_ids);
    TEST_ADD(test_mistral_ids_valid_kept);
    TEST_ADD(test_mistral_ids_collision);
    TEST_ADD(test_mistral_ids_per_type);
    TEST_ADD(test_mistral_tool_choice);
    TEST_ADD(test_mistral_name);
    TEST_ADD(test_mistral_assistant_fields);
    TEST_ADD(test_mistral_dropped);
    TEST_ADD(test_mistral_rejected);
    TEST_ADD(test_mistral_prefix);
    TEST_ADD(test_mistral_rewrite_nomem);
    TEST_ADD(test_mistral_decode_logprobs);
    TEST_ADD(test_mistral_decode_relayed);
    TEST_ADD(test_mistral_decode_errors);
    TEST_ADD(test_mistral_stream_logprobs);
    TEST_ADD(test_mistral_stream_split);
}
