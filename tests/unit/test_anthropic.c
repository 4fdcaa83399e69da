
/*
 * ngx_http_llm_router_module: tests of the Anthropic Messages adapter
 * (the provider's API reference).  The encoder writes keys in a fixed order,
 * so most tests compare the body byte for byte.
 */


#include <stdio.h>
#include <string.h>

#include "test_util.h"


#define TEST_KEY      "sk-ant-SECRET-0123456789"
#define USER_HI       "{\"role\":\"user\",\"content\":\"hi\"}"
#define MSGS_HI       "\"messages\":[" USER_HI "]"
#define HEAD(max)     "{\"model\":\"claude-x\",\"max_tokens\":" #max ","
#define OUT_HI        "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"
#define TOOL_F                                                                \
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]"
#define OUT_TOOL_F                                                            \
    "\"tools\":[{\"name\":\"f\",\"input_schema\":{\"type\":\"object\","      \
    "\"properties\":{}}}]"


typedef struct {
    const char   *name;
    const char   *json;             /* the OpenAI request */
    const char   *want;             /* the Anthropic body */
} test_anth_enc_t;


typedef struct {
    const char   *name;
    const char   *json;
    int           status;
    const char   *param;
    const char   *message;          /* a substring of it */
} test_anth_rej_t;


typedef struct {
    const char   *name;
    const char   *body;             /* the Anthropic answer */
    const char   *want;             /* the chat.completion */
} test_anth_dec_t;


typedef struct {
    const char   *name;
    const char   *body;
} test_anth_bad_t;


typedef struct {
    const char   *name;
    int           status;
    const char   *body;
    int           retryable;
    const char   *type;
    const char   *code;
    const char   *message;          /* NULL: the body is kept as it is */
} test_anth_err_t;


static void test_anth_provider(llm_provider_t *p);
static void test_anth_parse(test_ctx_t *ctx, const char *json,
    llm_request_t *req);
static void test_anth_encode_body(test_ctx_t *ctx, const char *json,
    const llm_provider_t *p, llm_http_request_t *out);
static void test_anth_encode(void **state);
static void test_anth_reject(void **state);
static void test_anth_head(void **state);
static void test_anth_no_key(void **state);
static void test_anth_bad_key(void **state);
static void test_anth_model(void **state);
static void test_anth_max_tokens_default(void **state);
static void test_anth_not_mutated(void **state);
static void test_anth_encode_nomem(void **state);
static void test_anth_decode_run(test_ctx_t *ctx, const char *body,
    llm_response_t *out);
static void test_anth_decode(void **state);
static void test_anth_decode_bad(void **state);
static void test_anth_decode_usage(void **state);
static void test_anth_decode_stop_reasons(void **state);
static void test_anth_decode_model_fallback(void **state);
static void test_anth_decode_nomem(void **state);
static void test_anth_error(void **state);
static void test_anth_error_long(void **state);
static void test_anth_error_nomem(void **state);


static const test_anth_enc_t  test_anth_enc[] = {

    /* the API reference's example: the request vector, from its OpenAI form */

    { "anthropic encode: reference vector",
      "{\"model\":\"claude-haiku-4-5\",\"max_completion_tokens\":256,"
      "\"messages\":[{\"role\":\"system\",\"content\":\"Be terse.\"},"
      "{\"role\":\"user\",\"content\":\"Weather in Oslo?\"},"
      "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
      "\"toolu_t1\",\"type\":\"function\",\"function\":{\"name\":"
      "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Oslo\\\"}\"}}]},"
      "{\"role\":\"tool\",\"tool_call_id\":\"toolu_t1\",\"content\":"
      "\"{\\\"temp_c\\\":4}\"}],"
      "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
      "\"get_weather\",\"description\":\"Current weather\",\"parameters\":"
      "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
      "\"required\":[\"city\"]}}}],\"tool_choice\":\"auto\"}",

      "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":256,\"system\":"
      "\"Be terse.\",\"messages\":[{\"role\":\"user\",\"content\":"
      "\"Weather in Oslo?\"},{\"role\":\"assistant\",\"content\":[{\"type\":"
      "\"tool_use\",\"id\":\"toolu_t1\",\"name\":\"get_weather\",\"input\":"
      "{\"city\":\"Oslo\"}}]},{\"role\":\"user\",\"content\":[{\"type\":"
      "\"tool_result\",\"tool_use_id\":\"toolu_t1\",\"content\":"
      "\"{\\\"temp_c\\\":4}\"}]}],\"tools\":[{\"name\":\"get_weather\","
      "\"description\":\"Current weather\",\"input_schema\":{\"type\":"
      "\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
      "\"required\":[\"city\"]}}],\"tool_choice\":{\"type\":\"auto\"}}" },

    /* 2.1 item 1: every system/developer message, anywhere, joined */

    { "anthropic encode: system extraction",
      "{\"model\":\"claude-x\",\"messages\":["
      "{\"role\":\"system\",\"content\":\"A.\"},"
      "{\"role\":\"user\",\"content\":\"q1\"},"
      "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":"
      "\"B1\"},{\"type\":\"text\",\"text\":\"\"},{\"type\":\"text\","
      "\"text\":\"B2\"}]},"
      "{\"role\":\"system\",\"content\":\"\"},"
      "{\"role\":\"user\",\"content\":\"q2\"}]}",

      HEAD(4096) "\"system\":\"A.\\n\\nB1\\n\\nB2\",\"messages\":[{\"role\":"
      "\"user\",\"content\":[{\"type\":\"text\",\"text\":\"q1\"},{\"type\":"
      "\"text\",\"text\":\"q2\"}]}]}" },

    { "anthropic encode: empty system left out",
      "{\"model\":\"claude-x\",\"messages\":[{\"role\":\"system\","
      "\"content\":[]}," USER_HI "]}",
      HEAD(4096) OUT_HI "}" },

    /* 2.1 item 2: turns alternate, same-role neighbours merged */

    { "anthropic encode: alternation merge",
      "{\"model\":\"claude-x\",\"messages\":["
      "{\"role\":\"user\",\"content\":\"a\"},"
      "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"b\"}]},"
      "{\"role\":\"assistant\",\"content\":\"c\"},"
      "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":"
      "\"d\"},{\"type\":\"refusal\",\"refusal\":\"e\"}]},"
      "{\"role\":\"user\",\"content\":\"f\"}]}",

      HEAD(4096) "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
      "\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}]},"
      "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":"
      "\"c\"},{\"type\":\"text\",\"text\":\"d\"},{\"type\":\"text\","
      "\"text\":\"e\"}]},{\"role\":\"user\",\"content\":\"f\"}]}" },

    { "anthropic encode: empty messages dropped, neighbours merged",
      "{\"model\":\"claude-x\",\"messages\":["
      "{\"role\":\"user\",\"content\":\"a\"},"
      "{\"role\":\"assistant\",\"content\":\"\"},"
      "{\"role\":\"assistant\",\"content\":null},"
      "{\"role\":\"user\",\"content\":\"b\"}]}",

      HEAD(4096) "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
      "\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}]}]}" },

    { "anthropic encode: a final assistant message is kept (prefill)",
      "{\"model\":\"claude-x\",\"messages\":[" USER_HI ","
      "{\"role\":\"assistant\",\"content\":\"{\\\"\"}]}",

      HEAD(4096) "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
      "{\"role\":\"assistant\",\"content\":\"{\\\"\"}]}" },

    /* 2.1 items 4, 5: parallel calls, results grouped, results first */

    { "anthropic encode: tool_use and tool_result grouping",
      "{\"model\":\"claude-x\",\"messages\":[" USER_HI ","
      "{\"role\":\"assistant\",\"content\":\"Checking.\",\"tool_calls\":["
      "{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\","
      "\"arguments\":\"{\\\"a\\\":1}\"}},"
      "{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":\"g\","
      "\"arguments\":\"\"}}]},"
      "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"r1\"},"
      "{\"role\":\"tool\",\"tool_call_id\":\"call_2\",\"content\":[{\"type\":"
      "\"text\",\"text\":\"r2\"}]},"
      "{\"role\":\"user\",\"content\":\"and?\"}]}",

      HEAD(4096) "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
      "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":"
      "\"Checking.\"},{\"type\":\"tool_use\",\"id\":\"call_1\",\"name\":"
      "\"f\",\"input\":{\"a\":1}},{\"type\":\"tool_use\",\"id\":\"call_2\","
      "\"name\":\"g\",\"input\":{}}]},{\"role\":\"user\",\"content\":["
      "{\"type\":\"tool_result\",\"tool_use_id\":\"call_1\",\"content\":"
      "\"r1\"},{\"type\":\"tool_result\",\"tool_use_id\":\"call_2\","
      "\"content\":[{\"type\":\"text\",\"text\":\"r2\"}]},{\"type\":\"text\","
      "\"text\":\"and?\"}]}]}" },

    { "anthropic encode: a tool_result goes before user text",
      "{\"model\":\"claude-x\",\"messages\":[" USER_HI ","
      "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c1\",\"function\":"
      "{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
      "{\"role\":\"user\",\"content\":\"u\"},"
      "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"\"}]}",

      HEAD(4096) "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
      "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":"
      "\"c1\",\"name\":\"f\",\"input\":{}}]},{\"role\":\"user\",\"content\":"
      "[{\"type\":\"tool_result\",\"tool_use_id\":\"c1\"},{\"type\":\"text\","
      "\"text\":\"u\"}]}]}" },

    { "anthropic encode: tool_results go before user text, in order",
      "{\"model\":\"claude-x\",\"messages\":[" USER_HI ","
      "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c1\",\"function\":"
      "{\"name\":\"f\",\"arguments\":\"{}\"}},{\"id\":\"c2\",\"function\":"
      "{\"name\":\"f\",\"arguments\":\"{}\"}},{\"id\":\"c3\",\"function\":"
      "{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
      "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"u1\"},"
      "{\"type\":\"image_url\",\"image_url\":\"https://x/i.png\"}]},"
      "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"r1\"},"
      "{\"role\":\"tool\",\"tool_call_id\":\"c2\",\"content\":\"r2\"},"
      "{\"role\":\"user\",\"content\":\"u2\"},"
      "{\"role\":\"tool\",\"tool_call_id\":\"c3\",\"content\":\"r3\"}]}",

      HEAD(4096) "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
      "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":"
      "\"c1\",\"name\":\"f\",\"input\":{}},{\"type\":\"tool_use\",\"id\":"
      "\"c2\",\"name\":\"f\",\"input\":{}},{\"type\":\"tool_use\",\"id\":"
      "\"c3\",\"name\":\"f\",\"input\":{}}]},{\"role\":\"user\",\"content\":"
      "[{\"type\":\"tool_result\",\"tool_use_id\":\"c1\",\"content\":\"r1\"},"
      "{\"type\":\"tool_result\",\"tool_use_id\":\"c2\",\"content\":\"r2\"},"
      "{\"type\":\"tool_result\",\"tool_use_id\":\"c3\",\"content\":\"r3\"},"
      "{\"type\":\"text\",\"text\":\"u1\"},{\"type\":\"image\",\"source\":"
      "{\"type\":\"url\",\"url\":\"https://x/i.png\"}},{\"type\":\"text\","
      "\"text\":\"u2\"}]}]}" },

    { "anthropic encode: a tool result with an image",
      "{\"model\":\"claude-x\",\"messages\":["
      "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":[{\"type\":"
      "\"image_url\",\"image_url\":{\"url\":\"https://x/i.png\"}}]}]}",

      HEAD(4096) "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
      "\"tool_result\",\"tool_use_id\":\"c1\",\"content\":[{\"type\":"
      "\"image\",\"source\":{\"type\":\"url\",\"url\":\"https://x/i.png\"}}"
      "]}]}]}" },

    /* 2.1 item 3: images */

    { "anthropic encode: image data URL and http URL",
      "{\"model\":\"claude-x\",\"messages\":[{\"role\":\"user\",\"content\":"
      "[{\"type\":\"text\",\"text\":\"What is this?\"},"
      "{\"type\":\"image_url\",\"image_url\":{\"url\":"
      "\"data:image/png;base64,iVBORw0KGgo=\",\"detail\":\"low\"}},"
      "{\"type\":\"image_url\",\"image_url\":{\"url\":"
      "\"https://example.com/cat.jpg\"}},"
      "{\"type\":\"image_url\",\"image_url\":"
      "\"data:IMAGE/JPEG;base64,/9j/\"}]}]}",

      HEAD(4096) "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
      "\"text\",\"text\":\"What is this?\"},{\"type\":\"image\",\"source\":"
      "{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":"
      "\"iVBORw0KGgo=\"}},{\"type\":\"image\",\"source\":{\"type\":\"url\","
      "\"url\":\"https://example.com/cat.jpg\"}},{\"type\":\"image\","
      "\"source\":{\"type\":\"base64\",\"media_type\":\"image/jpeg\","
      "\"data\":\"/9j/\"}}]}]}" },

    /* 2.1 item 6: max_tokens */

    { "anthropic encode: max_completion_tokens first",
      "{\"model\":\"claude-x\"," MSGS_HI ",\"max_tokens\":10,"
      "\"max_completion_tokens\":20}",
      HEAD(20) OUT_HI "}" },

    { "anthropic encode: max_tokens",
      "{\"model\":\"claude-x\"," MSGS_HI ",\"max_tokens\":10}",
      HEAD(10) OUT_HI "}" },

    { "anthropic encode: max_tokens null is absent",
      "{\"model\":\"claude-x\"," MSGS_HI ",\"max_tokens\":null,"
      "\"max_completion_tokens\":null}",
      HEAD(4096) OUT_HI "}" },

    /* 2.1 items 7, 8: sampling, stop, user */

    { "anthropic encode: temperature clamped to 1",
      "{\"model\":\"claude-x\"," MSGS_HI ",\"temperature\":1.7,"
      "\"top_p\":0.9}",
      HEAD(4096) OUT_HI ",\"temperature\":1,\"top_p\":0.9}" },

    { "anthropic encode: temperature kept",
      "{\"model\":\"claude-x\"," MSGS_HI ",\"temperature\":0.25}",
      HEAD(4096) OUT_HI ",\"temperature\":0.25}" },

    { "anthropic encode: stop string",
      "{\"model\":\"claude-x\"," MSGS_HI ",\"stop\":\"END\"}",
      HEAD(4096) OUT_HI ",\"stop_sequences\":[\"END\"]}" },

    { "anthropic encode: stop array",
      "{\"model\":\"claude-x\"," MSGS_HI ",\"stop\":[\"a\",\"\\n\\n\"]}",
      HEAD(4096) OUT_HI ",\"stop_sequences\":[\"a\",\"\\n\\n\"]}" },

    { "anthropic encode: empty stop array left out",
      "{\"model\":\"claude-x\"," MSGS_HI ",\"stop\":[]}",
      HEAD(4096) OUT_HI "}" },

    { "anthropic encode: user",
      "{\"model\":\"claude-x\"," MSGS_HI ",\"user\":\"u-42\"}",
      HEAD(4096) OUT_HI ",\"metadata\":{\"user_id\":\"u-42\"}}" },

    { "anthropic encode: stream",
      "{\"model\":\"claude-x\"," MSGS_HI ",\"stream\":true,"
      "\"stream_options\":{\"include_usage\":true}}",
      HEAD(4096) OUT_HI ",\"stream\":true}" },

    { "anthropic encode: stream false",
      "{\"model\":\"claude-x\"," MSGS_HI ",\"stream\":false}",
      HEAD(4096) OUT_HI "}" },

    /* 2.1 item 12: what is dropped */

    { "anthropic encode: dropped fields",
      "{\"model\":\"claude-x\"," MSGS_HI ",\"presence_penalty\":0.5,"
      "\"frequency_penalty\":-1,\"seed\":7,\"logit_bias\":{\"50256\":-100},"
      "\"logprobs\":false,\"n\":1,\"store\":true,\"service_tier\":\"auto\","
      "\"metadata\":{\"k\":\"v\"},\"reasoning_effort\":\"low\","
      "\"response_format\":{\"type\":\"text\"},\"modalities\":[\"text\"],"
      "\"prediction\":{\"type\":\"content\",\"content\":\"x\"},"
      "\"parallel_tool_calls\":true,\"tool_choice\":\"none\"}",
      HEAD(4096) OUT_HI "}" },

    /* 2.1 items 9, 10: tools and tool_choice */

    { "anthropic encode: tool defaults, strict dropped",
      "{\"model\":\"claude-x\"," MSGS_HI ",\"tools\":[{\"type\":\"function\","
      "\"function\":{\"name\":\"f\",\"strict\":true}},{\"function\":{\"name\":"
      "\"g\",\"description\":\"d\",\"parameters\":{\"type\":\"object\","
      "\"properties\":{\"x\":{\"type\":\"integer\"}}}}}]}",
      HEAD(4096) OUT_HI ",\"tools\":[{\"name\":\"f\",\"input_schema\":"
      "{\"type\":\"object\",\"properties\":{}}},{\"name\":\"g\","
      "\"description\":\"d\",\"input_schema\":{\"type\":\"object\","
      "\"properties\":{\"x\":{\"type\":\"integer\"}}}}]}" },

    { "anthropic encode: tool_choice absent",
      "{\"model\":\"claude-x\"," MSGS_HI "," TOOL_F "}",
      HEAD(4096) OUT_HI "," OUT_TOOL_F "}" },

    { "anthropic encode: tool_choice auto",
      "{\"model\":\"claude-x\"," MSGS_HI "," TOOL_F ",\"tool_choice\":"
      "\"auto\"}",
      HEAD(4096) OUT_HI "," OUT_TOOL_F ",\"tool_choice\":{\"type\":"
      "\"auto\"}}" },

    { "anthropic encode: tool_choice none",
      "{\"model\":\"claude-x\"," MSGS_HI "," TOOL_F ",\"tool_choice\":"
      "\"none\"}",
      HEAD(4096) OUT_HI "," OUT_TOOL_F ",\"tool_choice\":{\"type\":"
      "\"none\"}}" },

    { "anthropic encode: tool_choice required",
      "{\"model\":\"claude-x\"," MSGS_HI "," TOOL_F ",\"tool_choice\":"
      "\"required\"}",
      HEAD(4096) OUT_HI "," OUT_TOOL_F ",\"tool_choice\":{\"type\":"
      "\"any\"}}" },

    { "anthropic encode: tool_choice named",
      "{\"model\":\"claude-x\"," MSGS_HI "," TOOL_F ",\"tool_choice\":"
      "{\"type\":\"function\",\"function\":{\"name\":\"f\"}}}",
      HEAD(4096) OUT_HI "," OUT_TOOL_F ",\"tool_choice\":{\"type\":"
      "\"tool\",\"name\":\"f\"}}" },

    { "anthropic encode: parallel_tool_calls false",
      "{\"model\":\"claude-x\"," MSGS_HI "," TOOL_F ",\"tool_choice\":"
      "\"required\",\"parallel_tool_calls\":false}",
      HEAD(4096) OUT_HI "," OUT_TOOL_F ",\"tool_choice\":{\"type\":\"any\","
      "\"disable_parallel_tool_use\":true}}" },

    { "anthropic encode: parallel_tool_calls false without tool_choice",
      "{\"model\":\"claude-x\"," MSGS_HI "," TOOL_F ","
      "\"parallel_tool_calls\":false}",
      HEAD(4096) OUT_HI "," OUT_TOOL_F ",\"tool_choice\":{\"type\":\"auto\","
      "\"disable_parallel_tool_use\":true}}" },

    { "anthropic encode: parallel_tool_calls false with none",
      "{\"model\":\"claude-x\"," MSGS_HI "," TOOL_F ",\"tool_choice\":"
      "\"none\",\"parallel_tool_calls\":false}",
      HEAD(4096) OUT_HI "," OUT_TOOL_F ",\"tool_choice\":{\"type\":"
      "\"none\"}}" },

    { "anthropic encode: tool_choice auto without tools dropped",
      "{\"model\":\"claude-x\"," MSGS_HI ",\"tools\":[],\"tool_choice\":"
      "\"auto\",\"parallel_tool_calls\":false}",
      HEAD(4096) OUT_HI "}" },

    /* strings go through cJSON: escapes and UTF-8 kept */

    { "anthropic encode: escapes",
      "{\"model\":\"claude-\\\"x\\\"\",\"messages\":[{\"role\":\"user\","
      "\"content\":\"\\u00e9\\t\\\"q\\\"\\\\ \\ud83d\\ude00\"}]}",
      "{\"model\":\"claude-\\\"x\\\"\",\"max_tokens\":4096,\"messages\":["
      "{\"role\":\"user\",\"content\":\"\xc3\xa9\\t\\\"q\\\"\\\\ "
      "\xf0\x9f\x98\x80\"}]}" }
};


static const test_anth_rej_t  test_anth_rej[] = {
    { "anthropic reject: n > 1",
      "{\"model\":\"m\"," MSGS_HI ",\"n\":2}", 400, "n", "'n' greater" },
    { "anthropic reject: logprobs",
      "{\"model\":\"m\"," MSGS_HI ",\"logprobs\":true}", 400, "logprobs",
      "not supported" },
    { "anthropic reject: top_logprobs",
      "{\"model\":\"m\"," MSGS_HI ",\"top_logprobs\":2}", 400,
      "top_logprobs", "not supported" },
    { "anthropic reject: response_format json_object",
      "{\"model\":\"m\"," MSGS_HI ",\"response_format\":{\"type\":"
      "\"json_object\"}}", 400, "response_format", "forced 'tool_choice'" },
    { "anthropic reject: response_format json_schema",
      "{\"model\":\"m\"," MSGS_HI ",\"response_format\":{\"type\":"
      "\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{}}}}", 400,
      "response_format", "not supported" },
    { "anthropic reject: response_format not an object",
      "{\"model\":\"m\"," MSGS_HI ",\"response_format\":\"text\"}", 400,
      "response_format", "not supported" },
    { "anthropic reject: audio modality",
      "{\"model\":\"m\"," MSGS_HI ",\"modalities\":[\"text\",\"audio\"]}",
      400, "modalities", "not supported" },
    { "anthropic reject: functions",
      "{\"model\":\"m\"," MSGS_HI ",\"functions\":[{\"name\":\"f\"}]}", 400,
      "functions", "use 'tools'" },
    { "anthropic reject: audio",
      "{\"model\":\"m\"," MSGS_HI ",\"audio\":{\"voice\":\"alloy\"}}", 400,
      "audio", "not supported" },
    { "anthropic reject: no model",
      "{" MSGS_HI "}", 400, "model", "'model' is required" },
    { "anthropic reject: empty model",
      "{\"model\":\"\"," MSGS_HI "}", 400, "model", "'model' is required" },
    { "anthropic reject: only system messages",
      "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":"
      "\"s\"},{\"role\":\"user\",\"content\":\"\"}]}", 400, "messages",
      "at least one user or assistant message" },
    { "anthropic reject: system image",
      "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":"
      "[{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x\"}}]},"
      USER_HI "]}", 400, "messages",
      "messages[0]: system and developer messages may only have text" },
    { "anthropic reject: function role",
      "{\"model\":\"m\",\"messages\":[" USER_HI ",{\"role\":\"function\","
      "\"name\":\"f\",\"content\":\"x\"}]}", 400, "messages",
      "messages[1]: role 'function' is not supported" },
    { "anthropic reject: input_audio part",
      "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{"
      "\"type\":\"input_audio\",\"input_audio\":{}}]}]}", 400, "messages",
      "messages[0].content[0]: content parts of type 'input_audio'" },
    { "anthropic reject: image in an assistant message",
      "{\"model\":\"m\",\"messages\":[" USER_HI ",{\"role\":\"assistant\","
      "\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":"
      "\"https://x\"}}]}]}", 400, "messages", "in assistant messages" },
    { "anthropic reject: text part without text",
      "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{"
      "\"type\":\"text\",\"text\":5}]}]}", 400, "messages",
      "messages[0].content[0]: 'text' must be a string" },
    { "anthropic reject: image type",
      "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{"
      "\"type\":\"image_url\",\"image_url\":{\"url\":"
      "\"data:image/svg+xml;base64,PHN2Zz4=\"}}]}]}", 400, "messages",
      "image type 'image/svg+xml' is not supported" },
    { "anthropic reject: data URL not base64",
      "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{"
      "\"type\":\"image_url\",\"image_url\":{\"url\":"
      "\"data:image/png,abc\"}}]}]}", 400, "messages", "base64" },
    { "anthropic reject: image URL scheme",
      "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{"
      "\"type\":\"image_url\",\"image_url\":{\"url\":\"ftp://x/y.png\"}}]}]}",
      400, "messages", "http(s) URL" },
    { "anthropic reject: image without URL",
      "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{"
      "\"type\":\"image_url\",\"image_url\":{}}]}]}",
      400, "messages", "'image_url.url' must be a string" },
    { "anthropic reject: tool arguments not JSON",
      "{\"model\":\"m\",\"messages\":[" USER_HI ",{\"role\":\"assistant\","
      "\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\",\"function\":{"
      "\"name\":\"f\",\"arguments\":\"{city: Oslo}\"}}]}]}", 400, "messages",
      "messages[1].tool_calls[0]: 'arguments' must be a JSON object" },
    { "anthropic reject: tool arguments not an object",
      "{\"model\":\"m\",\"messages\":[" USER_HI ",{\"role\":\"assistant\","
      "\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\",\"function\":{"
      "\"name\":\"f\",\"arguments\":\"[1]\"}}]}]}", 400, "messages",
      "'arguments' must be a JSON object" },
    { "anthropic reject: tool call without id",
      "{\"model\":\"m\",\"messages\":[" USER_HI ",{\"role\":\"assistant\","
      "\"tool_calls\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
      "\"arguments\":\"{}\"}}]}]}", 400, "messages",
      "messages[1].tool_calls[0] must be" },
    { "anthropic reject: tool call of another type",
      "{\"model\":\"m\",\"messages\":[" USER_HI ",{\"role\":\"assistant\","
      "\"tool_calls\":[{\"id\":\"c\",\"type\":\"custom\",\"function\":{"
      "\"name\":\"f\",\"arguments\":\"{}\"}}]}]}", 400, "messages",
      "tool_calls[0] must be" },
    { "anthropic reject: tool type",
      "{\"model\":\"m\"," MSGS_HI ",\"tools\":[{\"type\":\"custom\","
      "\"custom\":{\"name\":\"f\"}}]}", 400, "tools",
      "tools[0]: only tools of type 'function'" },
    { "anthropic reject: tool without name",
      "{\"model\":\"m\"," MSGS_HI ",\"tools\":[{\"type\":\"function\","
      "\"function\":{\"name\":\"f\"}},{\"type\":\"function\",\"function\":"
      "{}}]}", 400, "tools", "tools[1]: 'function.name'" },
    { "anthropic reject: tool parameters",
      "{\"model\":\"m\"," MSGS_HI ",\"tools\":[{\"type\":\"function\","
      "\"function\":{\"name\":\"f\",\"parameters\":[]}}]}", 400, "tools",
      "'function.parameters' must be" },
    { "anthropic reject: tool description",
      "{\"model\":\"m\"," MSGS_HI ",\"tools\":[{\"type\":\"function\","
      "\"function\":{\"name\":\"f\",\"description\":1}}]}", 400, "tools",
      "'function.description' must be a string" },
    { "anthropic reject: tool_choice required without tools",
      "{\"model\":\"m\"," MSGS_HI ",\"tool_choice\":\"required\"}", 400,
      "tool_choice", "requires 'tools'" },
    { "anthropic reject: tool_choice named without tools",
      "{\"model\":\"m\"," MSGS_HI ",\"tool_choice\":{\"type\":\"function\","
      "\"function\":{\"name\":\"f\"}}}", 400, "tool_choice",
      "requires 'tools'" },
    { "anthropic reject: tool_choice unknown",
      "{\"model\":\"m\"," MSGS_HI "," TOOL_F ",\"tool_choice\":\"any\"}", 400,
      "tool_choice", "'tool_choice' must be" },
    { "anthropic reject: tool_choice without a name",
      "{\"model\":\"m\"," MSGS_HI "," TOOL_F ",\"tool_choice\":{\"type\":"
      "\"function\"}}", 400, "tool_choice", "'tool_choice' must be" },
    { "anthropic reject: parallel_tool_calls not a boolean",
      "{\"model\":\"m\"," MSGS_HI "," TOOL_F ",\"parallel_tool_calls\":0}",
      400, "parallel_tool_calls", "must be a boolean" },
    { "anthropic reject: user not a string",
      "{\"model\":\"m\"," MSGS_HI ",\"user\":42}", 400, "user",
      "'user' must be a string" }
};


/* the API reference's example and variations */

static const test_anth_dec_t  test_anth_dec[] = {

    { "anthropic decode: reference vector",
      "{\"id\":\"msg_t1\",\"type\":\"message\",\"role\":\"assistant\","
      "\"model\":\"claude-haiku-4-5-20251001\",\n \"content\":[{\"type\":"
      "\"text\",\"text\":\"Checking.\"},\n {\"type\":\"tool_use\",\"id\":"
      "\"toolu_t2\",\"name\":\"get_weather\",\"input\":{\"city\":\"Oslo\"}}],"
      "\n \"stop_reason\":\"tool_use\",\"stop_sequence\":null,\n \"usage\":"
      "{\"input_tokens\":40,\"cache_creation_input_tokens\":0,"
      "\"cache_read_input_tokens\":100,\"output_tokens\":22}}",

      "{\"id\":\"msg_t1\",\"object\":\"chat.completion\",\"created\":"
      "1767225600,\"model\":\"claude-haiku-4-5-20251001\",\"choices\":[{"
      "\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
      "\"Checking.\",\"refusal\":null,\"tool_calls\":[{\"id\":\"toolu_t2\","
      "\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
      "\"arguments\":\"{\\\"city\\\":\\\"Oslo\\\"}\"}}]},\"logprobs\":null,"
      "\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":140,"
      "\"completion_tokens\":22,\"total_tokens\":162,"
      "\"prompt_tokens_details\":{\"cached_tokens\":100}}}" },

    { "anthropic decode: text blocks joined, thinking dropped",
      "{\"id\":\"msg_2\",\"type\":\"message\",\"role\":\"assistant\","
      "\"model\":\"claude-x\",\"content\":[{\"type\":\"thinking\","
      "\"thinking\":\"hmm\",\"signature\":\"sig\"},{\"type\":\"text\","
      "\"text\":\"Hello, \"},{\"type\":\"redacted_thinking\",\"data\":\"x\"},"
      "{\"type\":\"text\",\"text\":\"w\\u00f6rld \\\"!\\\"\"}],"
      "\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":{"
      "\"input_tokens\":5,\"output_tokens\":7}}",

      "{\"id\":\"msg_2\",\"object\":\"chat.completion\",\"created\":"
      "1767225600,\"model\":\"claude-x\",\"choices\":[{\"index\":0,"
      "\"message\":{\"role\":\"assistant\",\"content\":\"Hello, w\xc3\xb6rld "
      "\\\"!\\\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":"
      "\"stop\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7,"
      "\"total_tokens\":12}}" },

    { "anthropic decode: only tool calls, content null",
      "{\"id\":\"msg_3\",\"type\":\"message\",\"role\":\"assistant\","
      "\"model\":\"claude-x\",\"content\":[{\"type\":\"tool_use\",\"id\":"
      "\"toolu_a\",\"name\":\"f\",\"input\":{}},{\"type\":\"tool_use\","
      "\"id\":\"toolu_b\",\"name\":\"g\"},{\"type\":\"server_tool_use\","
      "\"id\":\"srvtoolu_c\",\"name\":\"web_search\",\"input\":{}}],"
      "\"stop_reason\":\"tool_use\",\"usage\":{\"input_tokens\":1,"
      "\"cache_creation_input_tokens\":10,\"cache_read_input_tokens\":0,"
      "\"output_tokens\":2}}",

      "{\"id\":\"msg_3\",\"object\":\"chat.completion\",\"created\":"
      "1767225600,\"model\":\"claude-x\",\"choices\":[{\"index\":0,"
      "\"message\":{\"role\":\"assistant\",\"content\":null,\"refusal\":"
      "null,\"tool_calls\":[{\"id\":\"toolu_a\",\"type\":\"function\","
      "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}},{\"id\":"
      "\"toolu_b\",\"type\":\"function\",\"function\":{\"name\":\"g\","
      "\"arguments\":\"{}\"}}]},\"logprobs\":null,\"finish_reason\":"
      "\"tool_calls\"}],\"usage\":{\"prompt_tokens\":11,"
      "\"completion_tokens\":2,\"total_tokens\":13,"
      "\"prompt_tokens_details\":{\"cached_tokens\":0}}}" },

    { "anthropic decode: empty content",
      "{\"id\":\"msg_4\",\"type\":\"message\",\"model\":\"claude-x\","
      "\"content\":[],\"stop_reason\":\"max_tokens\"}",

      "{\"id\":\"msg_4\",\"object\":\"chat.completion\",\"created\":"
      "1767225600,\"model\":\"claude-x\",\"choices\":[{\"index\":0,"
      "\"message\":{\"role\":\"assistant\",\"content\":null,\"refusal\":"
      "null},\"logprobs\":null,\"finish_reason\":\"length\"}]}" },

    { "anthropic decode: an empty text block is content \"\"",
      "{\"id\":\"msg_5\",\"type\":\"message\",\"model\":\"claude-x\","
      "\"content\":[{\"type\":\"text\",\"text\":\"\"}],\"stop_reason\":"
      "\"refusal\",\"usage\":{\"input_tokens\":3,\"output_tokens\":0}}",

      "{\"id\":\"msg_5\",\"object\":\"chat.completion\",\"created\":"
      "1767225600,\"model\":\"claude-x\",\"choices\":[{\"index\":0,"
      "\"message\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":"
      "null},\"logprobs\":null,\"finish_reason\":\"content_filter\"}],"
      "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":0,"
      "\"total_tokens\":3}}" },

    { "anthropic decode: tool input of another type printed as is",
      "{\"id\":\"msg_6\",\"type\":\"message\",\"model\":\"claude-x\","
      "\"content\":[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\","
      "\"input\":[1,\"a\\nb\",null,1.5]}],\"stop_reason\":\"tool_use\"}",

      "{\"id\":\"msg_6\",\"object\":\"chat.completion\",\"created\":"
      "1767225600,\"model\":\"claude-x\",\"choices\":[{\"index\":0,"
      "\"message\":{\"role\":\"assistant\",\"content\":null,\"refusal\":"
      "null,\"tool_calls\":[{\"id\":\"t\",\"type\":\"function\","
      "\"function\":{\"name\":\"f\",\"arguments\":"
      "\"[1,\\\"a\\\\nb\\\",null,1.5]\"}}]},\"logprobs\":null,"
      "\"finish_reason\":\"tool_calls\"}]}" }
};


static const test_anth_bad_t  test_anth_bad[] = {
    { "anthropic decode 502: empty", "" },
    { "anthropic decode 502: HTML", "<html><body>502</body></html>" },
    { "anthropic decode 502: truncated",
      "{\"id\":\"msg_1\",\"type\":\"message\",\"content\":[{\"type\":" },
    { "anthropic decode 502: lax JSON",
      "{\"type\":\"message\",\"content\":[],}" },
    { "anthropic decode 502: array", "[{\"type\":\"message\"}]" },
    { "anthropic decode 502: string", "\"message\"" },
    { "anthropic decode 502: no type", "{\"content\":[]}" },
    { "anthropic decode 502: other type",
      "{\"type\":\"completion\",\"content\":[]}" },
    { "anthropic decode 502: type not a string",
      "{\"type\":1,\"content\":[]}" },
    { "anthropic decode 502: error with 200",
      "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
      "\"message\":\"Overloaded\"}}" },
    { "anthropic decode 502: no content", "{\"type\":\"message\"}" },
    { "anthropic decode 502: content not an array",
      "{\"type\":\"message\",\"content\":\"hi\"}" },
    { "anthropic decode 502: block without type",
      "{\"type\":\"message\",\"content\":[{\"text\":\"hi\"}]}" },
    { "anthropic decode 502: block not an object",
      "{\"type\":\"message\",\"content\":[\"hi\"]}" },
    { "anthropic decode 502: text block without text",
      "{\"type\":\"message\",\"content\":[{\"type\":\"text\",\"text\":1}]}" },
    { "anthropic decode 502: tool_use without id",
      "{\"type\":\"message\",\"content\":[{\"type\":\"tool_use\","
      "\"name\":\"f\",\"input\":{}}]}" }
};


#define GENERIC(status)  "The upstream provider returned HTTP " #status

#define ANTH_ERR(type, msg)                                                   \
    "{\"type\":\"error\",\"error\":{\"type\":\"" type "\",\"message\":\""    \
    msg "\"},\"request_id\":\"req_t1\"}"


#define TEST_PRE                                                              \
    "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"a"


/* the API reference's example */

static const test_anth_err_t  test_anth_err[] = {
    { "anthropic error: 529 overloaded", 529,
      "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
      "\"message\":\"Overloaded\"},\"request_id\":\"req_t1\"}",
      1, "server_error", "overloaded", "Overloaded" },
    { "anthropic error: 400 invalid request", 400,
      ANTH_ERR("invalid_request_error", "max_tokens: Field required"),
      0, "invalid_request_error", NULL, "max_tokens: Field required" },
    { "anthropic error: 401", 401,
      ANTH_ERR("authentication_error", "invalid x-api-key"),
      0, "authentication_error", "invalid_api_key", "invalid x-api-key" },
    { "anthropic error: 402 billing", 402,
      ANTH_ERR("billing_error", "Your credit balance is too low"),
      0, "insufficient_quota", "insufficient_quota",
      "Your credit balance is too low" },
    { "anthropic error: 403", 403,
      ANTH_ERR("permission_error", "no access"),
      0, "permission_error", NULL, "no access" },
    { "anthropic error: 404", 404,
      ANTH_ERR("not_found_error", "model: claude-x"),
      0, "invalid_request_error", "not_found", "model: claude-x" },
    { "anthropic error: 413", 413,
      ANTH_ERR("request_too_large", "Request exceeds the maximum size"),
      0, "invalid_request_error", "request_too_large",
      "Request exceeds the maximum size" },
    { "anthropic error: 429", 429,
      ANTH_ERR("rate_limit_error", "Number of request tokens has exceeded "
               "your per-minute rate limit"),
      1, "rate_limit_error", "rate_limit_exceeded",
      "Number of request tokens has exceeded your per-minute rate limit" },
    { "anthropic error: 500", 500,
      ANTH_ERR("api_error", "Internal server error"),
      1, "server_error", NULL, "Internal server error" },
    { "anthropic error: 504 timeout", 504,
      ANTH_ERR("timeout_error", "Request timed out"),
      1, "server_error", "timeout", "Request timed out" },
    { "anthropic error: 503 overloaded", 503,
      ANTH_ERR("overloaded_error", "Overloaded"),
      1, "server_error", "overloaded", "Overloaded" },
    { "anthropic error: unknown type, 4xx", 409,
      ANTH_ERR("conflict_error", "conflict"),
      0, "invalid_request_error", NULL, "conflict" },
    { "anthropic error: unknown type, 429", 429,
      ANTH_ERR("slow_down_error", "slow down"),
      1, "rate_limit_error", "rate_limit_exceeded", "slow down" },
    { "anthropic error: unknown type, 5xx", 529,
      ANTH_ERR("melted_error", "melted"),
      1, "server_error", NULL, "melted" },
    { "anthropic error: empty message", 500,
      ANTH_ERR("api_error", ""),
      1, "server_error", NULL, GENERIC(500) },
    { "anthropic error: no message", 400,
      "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\"}}",
      0, "invalid_request_error", NULL, GENERIC(400) },
    { "anthropic error: escaped message", 400,
      ANTH_ERR("invalid_request_error", "bad \\\"x\\\"\\n\\u00e9"),
      0, "invalid_request_error", NULL, "bad \"x\"\n\xc3\xa9" },

    /* not the Anthropic shape: llm_compat_error() */

    { "anthropic error: 413 from Cloudflare", 413,
      "<html><head><title>413 Request Entity Too Large</title></head>"
      "</html>", 0, "invalid_request_error", NULL, GENERIC(413) },
    { "anthropic error: 502 HTML", 502, "<html>Bad Gateway</html>",
      1, "server_error", NULL, GENERIC(502) },
    { "anthropic error: 529 empty", 529, "", 1, "server_error", NULL,
      GENERIC(529) },
    { "anthropic error: 503 not JSON", 503, "upstream connect error",
      1, "server_error", NULL, GENERIC(503) },
    { "anthropic error: type not error", 400,
      "{\"type\":\"message\",\"error\":{\"type\":\"x\",\"message\":\"m\"}}",
      0, NULL, NULL, NULL },
    { "anthropic error: OpenAI shape kept", 400,
      "{\"error\":{\"message\":\"m\",\"type\":\"invalid_request_error\","
      "\"param\":null,\"code\":null}}", 0, NULL, NULL, NULL },
    { "anthropic error: trailing garbage", 529,
      "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
      "\"message\":\"Overloaded\"}} x", 1, "server_error", NULL,
      GENERIC(529) }
};


static void
test_anth_provider(llm_provider_t *p)
{
    p->name = "claude";
    p->model = NULL;
    p->api_key = TEST_KEY;
    p->base_path = "/v1";
    p->max_tokens = 0;
}


static void
test_anth_parse(test_ctx_t *ctx, const char *json, llm_request_t *req)
{
    char         *body;
    size_t        len;
    llm_error_t   err;

    len = strlen(json);
    body = test_copy(ctx, json, len);

    if (llm_request_parse(req, body, len, &err) != LLM_OK) {
        fail_msg("rejected: %s", err.message);
    }
}


static void
test_anth_encode_body(test_ctx_t *ctx, const char *json,
    const llm_provider_t *p, llm_http_request_t *out)
{
    int             rc;
    llm_error_t     err;
    llm_request_t   req;

    test_anth_parse(ctx, json, &req);

    rc = llm_anthropic_adapter.encode(&req, p, &ctx->pool, out, &err);

    llm_request_free(&req);

    if (rc != LLM_OK) {
        fail_msg("encode failed: %d %s", err.status, err.message);
    }

    assert_non_null(out->body);
    assert_int_equal(out->body[out->body_len], '\0');
    assert_int_equal(out->body_len, strlen(out->body));
    assert_null(strstr(out->body, "SECRET"));

    cJSON_Delete(test_json(out->body, out->body_len));
}


static void
test_anth_encode(void **state)
{
    test_ctx_t             *ctx;
    llm_provider_t          p;
    llm_http_request_t      out;
    const test_anth_enc_t  *t;

    ctx = *state;
    t = ctx->data;

    test_anth_provider(&p);
    test_anth_encode_body(ctx, t->json, &p, &out);

    if (strcmp(out.body, t->want) != 0) {
        fail_msg("got:\n%s\nwant:\n%s", out.body, t->want);
    }
}


static void
test_anth_reject(void **state)
{
    test_ctx_t             *ctx;
    llm_error_t             err;
    llm_request_t           req;
    llm_provider_t          p;
    llm_http_request_t      out;
    const test_anth_rej_t  *t;

    ctx = *state;
    t = ctx->data;

    test_anth_provider(&p);
    test_anth_parse(ctx, t->json, &req);

    memset(&err, 0, sizeof(llm_error_t));

    assert_int_equal(llm_anthropic_adapter.encode(&req, &p, &ctx->pool,
                                                  &out, &err),
                     LLM_ERROR);

    llm_request_free(&req);

    assert_int_equal(err.status, t->status);
    assert_string_equal(err.type, "invalid_request_error");
    assert_non_null(err.param);
    assert_string_equal(err.param, t->param);

    if (strstr(err.message, t->message) == NULL) {
        fail_msg("message \"%s\" lacks \"%s\"", err.message, t->message);
    }
}


static void
test_anth_head(void **state)
{
    test_ctx_t          *ctx;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    test_anth_provider(&p);

    test_anth_encode_body(ctx, "{\"model\":\"m\"," MSGS_HI "}", &p, &out);

    assert_string_equal(out.method, "POST");
    assert_string_equal(out.path, "/v1/messages");
    assert_int_equal(out.nheaders, 2);
    assert_string_equal(out.headers[0].name, "x-api-key");
    assert_string_equal(out.headers[0].value, TEST_KEY);
    assert_string_equal(out.headers[1].name, "anthropic-version");
    assert_string_equal(out.headers[1].value, "2023-06-01");

    p.base_path = "/proxy/anthropic/?x=1";

    test_anth_encode_body(ctx, "{\"model\":\"m\"," MSGS_HI "}", &p, &out);

    assert_string_equal(out.path, "/proxy/anthropic/messages?x=1");

    assert_string_equal(llm_anthropic_adapter.name, "anthropic");
    assert_string_equal(llm_anthropic_adapter.default_url,
                        "https://api.anthropic.com/v1");
    assert_ptr_equal(llm_adapter_find("Anthropic", 9),
                     &llm_anthropic_adapter);
    assert_non_null(llm_anthropic_adapter.decode);
}


static void
test_anth_no_key(void **state)
{
    test_ctx_t          *ctx;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    test_anth_provider(&p);

    p.api_key = NULL;

    test_anth_encode_body(ctx, "{\"model\":\"m\"," MSGS_HI "}", &p, &out);

    assert_int_equal(out.nheaders, 1);
    assert_string_equal(out.headers[0].name, "anthropic-version");

    p.api_key = "";

    test_anth_encode_body(ctx, "{\"model\":\"m\"," MSGS_HI "}", &p, &out);

    assert_int_equal(out.nheaders, 1);
    assert_string_equal(out.headers[0].name, "anthropic-version");
}


static void
test_anth_bad_key(void **state)
{
    test_ctx_t          *ctx;
    llm_error_t          err;
    llm_request_t        req;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    test_anth_provider(&p);
    test_anth_parse(ctx, "{\"model\":\"m\"," MSGS_HI "}", &req);

    p.api_key = "sk-ant\r\nX-Injected: 1";

    assert_int_equal(llm_anthropic_adapter.encode(&req, &p, &ctx->pool,
                                                  &out, &err),
                     LLM_ERROR);
    assert_int_equal(err.status, 500);
    assert_non_null(strstr(err.message, "invalid API key"));

    llm_request_free(&req);

    /* a request that did not parse */

    p.api_key = TEST_KEY;

    assert_int_equal(llm_anthropic_adapter.encode(&req, &p, &ctx->pool,
                                                  &out, &err),
                     LLM_ERROR);
    assert_int_equal(err.status, 500);
}


static void
test_anth_model(void **state)
{
    test_ctx_t          *ctx;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    test_anth_provider(&p);

    /* the configured model wins; it alone is enough */

    p.model = "claude-sonnet-4-5";

    test_anth_encode_body(ctx, "{\"model\":\"gpt-4o\"," MSGS_HI "}", &p,
                          &out);
    assert_string_equal(out.body, "{\"model\":\"claude-sonnet-4-5\","
                                  "\"max_tokens\":4096," OUT_HI "}");

    test_anth_encode_body(ctx, "{" MSGS_HI "}", &p, &out);
    assert_string_equal(out.body, "{\"model\":\"claude-sonnet-4-5\","
                                  "\"max_tokens\":4096," OUT_HI "}");

    /* an empty configured model is none */

    p.model = "";

    test_anth_encode_body(ctx, "{\"model\":\"gpt-4o\"," MSGS_HI "}", &p,
                          &out);
    assert_string_equal(out.body, "{\"model\":\"gpt-4o\","
                                  "\"max_tokens\":4096," OUT_HI "}");
}


static void
test_anth_max_tokens_default(void **state)
{
    test_ctx_t          *ctx;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    test_anth_provider(&p);

    p.max_tokens = 1000;

    test_anth_encode_body(ctx, "{\"model\":\"m\"," MSGS_HI "}", &p, &out);
    assert_string_equal(out.body, "{\"model\":\"m\",\"max_tokens\":1000,"
                                  OUT_HI "}");

    /* the client's value wins over the configured default */

    test_anth_encode_body(ctx, "{\"model\":\"m\"," MSGS_HI ",\"max_tokens\":"
                          "5}", &p, &out);
    assert_string_equal(out.body, "{\"model\":\"m\",\"max_tokens\":5,"
                                  OUT_HI "}");

    p.max_tokens = 0;

    test_anth_encode_body(ctx, "{\"model\":\"m\"," MSGS_HI "}", &p, &out);
    assert_string_equal(out.body, "{\"model\":\"m\",\"max_tokens\":4096,"
                                  OUT_HI "}");

    p.max_tokens = -3;

    test_anth_encode_body(ctx, "{\"model\":\"m\"," MSGS_HI "}", &p, &out);
    assert_string_equal(out.body, "{\"model\":\"m\",\"max_tokens\":4096,"
                                  OUT_HI "}");

    p.max_tokens = 2147483647L;

    test_anth_encode_body(ctx, "{\"model\":\"m\"," MSGS_HI "}", &p, &out);
    assert_string_equal(out.body, "{\"model\":\"m\",\"max_tokens\":"
                                  "2147483647," OUT_HI "}");
}


static void
test_anth_not_mutated(void **state)
{
    char                *before, *after;
    test_ctx_t          *ctx;
    const char          *json;
    llm_error_t          err;
    llm_request_t        req;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    json = "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":"
           "\"s\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\","
           "\"text\":\"a\"}]},{\"role\":\"assistant\",\"tool_calls\":[{\"id\":"
           "\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\","
           "\"arguments\":\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":"
           "\"c\",\"content\":\"r\"}]," TOOL_F ",\"tool_choice\":\"auto\","
           "\"stop\":\"x\",\"user\":\"u\"}";

    test_anth_provider(&p);
    test_anth_parse(ctx, json, &req);

    before = cJSON_PrintUnformatted(req.root);
    assert_non_null(before);

    assert_int_equal(llm_anthropic_adapter.encode(&req, &p, &ctx->pool,
                                                  &out, &err),
                     LLM_OK);

    /* twice: the same bytes */

    assert_int_equal(llm_anthropic_adapter.encode(&req, &p, &ctx->pool,
                                                  &out, &err),
                     LLM_OK);

    after = cJSON_PrintUnformatted(req.root);
    assert_non_null(after);

    assert_string_equal(before, after);

    cJSON_free(before);
    cJSON_free(after);

    llm_request_free(&req);
}


static void
test_anth_encode_nomem(void **state)
{
    size_t               n, fail;
    test_ctx_t          *ctx;
    llm_error_t          err;
    llm_request_t        req;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    test_anth_provider(&p);
    test_anth_parse(ctx, "{\"model\":\"m\",\"messages\":[{\"role\":"
                    "\"system\",\"content\":\"s\"}," USER_HI "]}", &req);

    /* every pool allocation in turn fails: a 500, nothing leaked */

    n = ctx->count;

    assert_int_equal(llm_anthropic_adapter.encode(&req, &p, &ctx->pool,
                                                  &out, &err),
                     LLM_OK);

    n = ctx->count - n;
    assert_true(n >= 3);

    for (fail = 1; fail <= n; fail++) {
        ctx->fail_at = ctx->count + fail;

        assert_int_equal(llm_anthropic_adapter.encode(&req, &p, &ctx->pool,
                                                      &out, &err),
                         LLM_ERROR);
        assert_int_equal(err.status, 500);

        ctx->fail_at = 0;
    }

    llm_request_free(&req);
}


static void
test_anth_decode_run(test_ctx_t *ctx, const char *body, llm_response_t *out)
{
    int             rc;
    char           *copy;
    size_t          len;
    llm_error_t     err;
    llm_provider_t  p;

    test_anth_provider(&p);

    len = strlen(body);
    copy = test_copy(ctx, body, len);

    rc = llm_anthropic_adapter.decode(NULL, &p, copy, len, 1767225600,
                                      &ctx->pool, out, &err);

    if (rc != LLM_OK) {
        fail_msg("decode failed: %d %s", err.status, err.message);
    }

    assert_non_null(out->body);
    assert_int_equal(out->body_len, strlen(out->body));
    cJSON_Delete(test_json(out->body, out->body_len));
}


static void
test_anth_decode(void **state)
{
    test_ctx_t             *ctx;
    llm_response_t          out;
    const test_anth_dec_t  *t;

    ctx = *state;
    t = ctx->data;

    test_anth_decode_run(ctx, t->body, &out);

    if (strcmp(out.body, t->want) != 0) {
        fail_msg("got:\n%s\nwant:\n%s", out.body, t->want);
    }
}


static void
test_anth_decode_bad(void **state)
{
    char                   *copy;
    size_t                  len;
    test_ctx_t             *ctx;
    llm_error_t             err;
    llm_response_t          out;
    llm_provider_t          p;
    const test_anth_bad_t  *t;

    ctx = *state;
    t = ctx->data;

    test_anth_provider(&p);

    len = strlen(t->body);
    copy = test_copy(ctx, t->body, len);

    memset(&err, 0, sizeof(llm_error_t));

    assert_int_equal(llm_anthropic_adapter.decode(NULL, &p, copy, len, 1,
                                                  &ctx->pool, &out, &err),
                     LLM_ERROR);

    assert_int_equal(err.status, 502);
    assert_string_equal(err.type, "api_error");
    assert_string_equal(err.code, "invalid_provider_response");
    assert_null(err.param);
    assert_non_null(strstr(err.message, "the Anthropic answer "));
}


static void
test_anth_decode_usage(void **state)
{
    test_ctx_t      *ctx;
    llm_response_t   out;

    ctx = *state;

    /* the documented example: prompt 140, cached 100, completion 22, 162 */

    test_anth_decode_run(ctx, test_anth_dec[0].body, &out);

    assert_int_equal(out.usage.prompt_tokens, 140);
    assert_int_equal(out.usage.completion_tokens, 22);
    assert_int_equal(out.usage.total_tokens, 162);
    assert_int_equal(out.usage.cached_tokens, 100);
    assert_int_equal(out.usage.cache_write_tokens, 0);
    assert_int_equal(out.usage.reasoning_tokens, -1);

    /* cache writes are prompt tokens, not cached ones */

    test_anth_decode_run(ctx,
        "{\"type\":\"message\",\"content\":[],\"usage\":{\"input_tokens\":3,"
        "\"cache_creation_input_tokens\":2000,\"output_tokens\":4}}", &out);

    assert_int_equal(out.usage.prompt_tokens, 2003);
    assert_int_equal(out.usage.completion_tokens, 4);
    assert_int_equal(out.usage.total_tokens, 2007);
    assert_int_equal(out.usage.cached_tokens, -1);
    assert_int_equal(out.usage.cache_write_tokens, 2000);
    assert_null(strstr(out.body, "prompt_tokens_details"));

    /* counts that are not counts are not reported; the rendered one is 0 */

    test_anth_decode_run(ctx,
        "{\"type\":\"message\",\"content\":[],\"usage\":{\"input_tokens\":-3,"
        "\"cache_read_input_tokens\":\"7\",\"output_tokens\":1e400}}", &out);

    assert_int_equal(out.usage.prompt_tokens, 0);
    assert_int_equal(out.usage.completion_tokens, 9007199254740992LL);
    assert_int_equal(out.usage.cached_tokens, -1);
    assert_int_equal(out.usage.cache_write_tokens, -1);

    /* no usage: every count -1, and no "usage" in the answer */

    test_anth_decode_run(ctx,
        "{\"type\":\"message\",\"content\":[],\"usage\":[1,2]}", &out);

    assert_int_equal(out.usage.prompt_tokens, -1);
    assert_int_equal(out.usage.completion_tokens, -1);
    assert_int_equal(out.usage.total_tokens, -1);
    assert_int_equal(out.usage.cache_write_tokens, -1);
    assert_int_equal(llm_usage_known(&out.usage), 0);
    assert_null(strstr(out.body, "\"usage\""));

    /* cache counts alone are prompt tokens */

    test_anth_decode_run(ctx,
        "{\"type\":\"message\",\"content\":[],\"usage\":{"
        "\"cache_read_input_tokens\":30}}", &out);

    assert_int_equal(out.usage.prompt_tokens, 30);
    assert_int_equal(out.usage.completion_tokens, 0);
    assert_int_equal(out.usage.total_tokens, 30);
    assert_int_equal(out.usage.cached_tokens, 30);
}


static void
test_anth_decode_stop_reasons(void **state)
{
    char            body[256];
    size_t          i;
    cJSON          *root, *ch;
    test_ctx_t     *ctx;
    llm_response_t  out;

    static const char  *const map[][2] = {
        { "\"end_turn\"", "stop" },
        { "\"stop_sequence\"", "stop" },
        { "\"pause_turn\"", "stop" },
        { "\"max_tokens\"", "length" },
        { "\"model_context_window_exceeded\"", "length" },
        { "\"tool_use\"", "tool_calls" },
        { "\"refusal\"", "content_filter" },
        { "\"something_new\"", "stop" },
        { "null", "stop" },
        { "42", "stop" }
    };

    ctx = *state;

    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        snprintf(body, sizeof(body),
                 "{\"id\":\"m\",\"type\":\"message\",\"content\":[{\"type\":"
                 "\"text\",\"text\":\"x\"}],\"stop_reason\":%s}", map[i][0]);

        test_anth_decode_run(ctx, body, &out);

        root = test_json(out.body, out.body_len);
        ch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root,
                                                                 "choices"),
                                0);

        assert_string_equal(llm_json_str(ch, "finish_reason"), map[i][1]);

        cJSON_Delete(root);
    }
}


static void
test_anth_decode_model_fallback(void **state)
{
    char            *body, *id;
    size_t           len;
    test_ctx_t      *ctx;
    const char      *json;
    llm_error_t      err;
    llm_request_t    req;
    llm_response_t   out;
    llm_provider_t   p;

    ctx = *state;

    test_anth_provider(&p);
    test_anth_parse(ctx, "{\"model\":\"client-model\"," MSGS_HI "}", &req);

    json = "{\"type\":\"message\",\"content\":[]}";
    len = strlen(json);
    body = test_copy(ctx, json, len);

    assert_int_equal(llm_anthropic_adapter.decode(&req, &p, body, len, 7,
                                                  &ctx->pool, &out, &err),
                     LLM_OK);

    /* no id: "chatcmpl-" and 24 characters derived from the answer */

    assert_memory_equal(out.body, "{\"id\":\"chatcmpl-", 16);
    assert_int_equal(out.body[16 + 24], '"');
    id = llm_pstrdup(&ctx->pool, out.body + 16, 24);

    assert_string_equal(out.body + 16 + 24,
        "\",\"object\":\"chat.completion\",\"created\":7,"
        "\"model\":\"client-model\",\"choices\":[{\"index\":0,\"message\":"
        "{\"role\":\"assistant\",\"content\":null,\"refusal\":null},"
        "\"logprobs\":null,\"finish_reason\":\"stop\"}]}");

    p.model = "configured";

    assert_int_equal(llm_anthropic_adapter.decode(&req, &p, body, len, 7,
                                                  &ctx->pool, &out, &err),
                     LLM_OK);
    assert_non_null(strstr(out.body, "\"model\":\"configured\","));

    /* the same answer, the same id; another answer, another id */

    assert_memory_equal(out.body + 16, id, 24);

    json = "{\"type\":\"message\",\"content\":[] }";
    len = strlen(json);
    body = test_copy(ctx, json, len);

    assert_int_equal(llm_anthropic_adapter.decode(&req, &p, body, len, 7,
                                                  &ctx->pool, &out, &err),
                     LLM_OK);
    assert_memory_equal(out.body, "{\"id\":\"chatcmpl-", 16);
    assert_memory_not_equal(out.body + 16, id, 24);

    llm_request_free(&req);
}


static void
test_anth_decode_nomem(void **state)
{
    size_t           n, fail, len;
    test_ctx_t      *ctx;
    const char      *body;
    llm_error_t      err;
    llm_response_t   out;
    llm_provider_t   p;

    ctx = *state;

    test_anth_provider(&p);

    body = test_anth_dec[0].body;
    len = strlen(body);

    n = ctx->count;

    assert_int_equal(llm_anthropic_adapter.decode(NULL, &p, body, len, 1,
                                                  &ctx->pool, &out, &err),
                     LLM_OK);

    n = ctx->count - n;
    assert_true(n >= 3);

    for (fail = 1; fail <= n; fail++) {
        ctx->fail_at = ctx->count + fail;

        assert_int_equal(llm_anthropic_adapter.decode(NULL, &p, body, len, 1,
                                                      &ctx->pool, &out,
                                                      &err),
                         LLM_ERROR);
        assert_int_equal(err.status, 500);

        ctx->fail_at = 0;
    }
}


static void
test_anth_error(void **state)
{
    char                   *body;
    size_t                  len;
    test_ctx_t             *ctx;
    llm_provider_error_t    out;
    const test_anth_err_t  *t;

    ctx = *state;
    t = ctx->data;

    len = strlen(t->body);
    body = test_copy(ctx, t->body, len);

    memset(&out, 0xa5, sizeof(llm_provider_error_t));

    assert_int_equal(llm_anthropic_adapter.error(t->status, body, len,
                                                 &ctx->pool, &out),
                     LLM_OK);

    assert_int_equal(out.retryable, t->retryable);
    assert_non_null(out.body);
    assert_int_equal(out.body[out.body_len], '\0');

    if (t->message == NULL) {
        assert_int_equal(out.body_len, len);
        assert_memory_equal(out.body, t->body, len);
        return;
    }

    test_check_error_json(out.body, out.body_len, t->type, NULL, t->code,
                          t->message);
}


static void
test_anth_error_long(void **state)
{
    char                  *body;
    cJSON                 *root;
    size_t                 len, i, pre;
    test_ctx_t            *ctx;
    const char            *msg;
    llm_provider_error_t   out;

    ctx = *state;

    /* an "é" message of 4000 bytes is cut at 1024, on a boundary */

    pre = TEST_LEN(TEST_PRE);
    len = TEST_LEN(ANTH_ERR("api_error", "")) + 1 + 4000;
    body = test_copy(ctx, NULL, len);

    memcpy(body, TEST_PRE, pre);

    for (i = 0; i < 4000; i += 2) {
        memcpy(body + pre + i, "\xc3\xa9", 2);
    }

    memcpy(body + pre + 4000, "\"},\"request_id\":\"req_t1\"}",
           len - pre - 4000);

    assert_int_equal(llm_anthropic_adapter.error(500, body, len, &ctx->pool,
                                                 &out),
                     LLM_OK);

    root = test_json(out.body, out.body_len);
    msg = llm_json_str(cJSON_GetObjectItemCaseSensitive(root, "error"),
                       "message");

    assert_non_null(msg);
    assert_int_equal(strlen(msg), 1023);
    assert_memory_equal(msg + 1021, "\xc3\xa9", 2);

    cJSON_Delete(root);
}


static void
test_anth_error_nomem(void **state)
{
    test_ctx_t            *ctx;
    const char            *body;
    llm_provider_error_t   out;

    ctx = *state;
    ctx->fail_at = 1;

    body = ANTH_ERR("overloaded_error", "Overloaded");

    assert_int_equal(llm_anthropic_adapter.error(529, body, strlen(body),
                                                 &ctx->pool, &out),
                     LLM_ERROR);
    assert_null(out.body);
    assert_int_equal(out.retryable, 1);

    assert_int_equal(llm_anthropic_adapter.error(502, "<html>", 6,
                                                 &ctx->pool, &out),
                     LLM_ERROR);
    assert_null(out.body);
}


void
test_anthropic_register(void)
{
    size_t  i;

    for (i = 0; i < sizeof(test_anth_enc) / sizeof(test_anth_enc[0]); i++) {
        test_add(test_anth_enc[i].name, test_anth_encode, &test_anth_enc[i]);
    }

    for (i = 0; i < sizeof(test_anth_rej) / sizeof(test_anth_rej[0]); i++) {
        test_add(test_anth_rej[i].name, test_anth_reject, &test_anth_rej[i]);
    }

    TEST_ADD(test_anth_head);
    TEST_ADD(test_anth_no_key);
    TEST_ADD(test_anth_bad_key);
    TEST_ADD(test_anth_model);
    TEST_ADD(test_anth_max_tokens_default);
    TEST_ADD(test_anth_not_mutated);
    TEST_ADD(test_anth_encode_nomem);

    for (i = 0; i < sizeof(test_anth_dec) / sizeof(test_anth_dec[0]); i++) {
        test_add(test_anth_dec[i].name, test_anth_decode, &test_anth_dec[i]);
    }

    for (i = 0; i < sizeof(test_anth_bad) / sizeof(test_anth_bad[0]); i++) {
        test_add(test_anth_bad[i].name, test_anth_decode_bad,
                 &test_anth_bad[i]);
    }

    TEST_ADD(test_anth_decode_usage);
    TEST_ADD(test_anth_decode_stop_reasons);
    TEST_ADD(test_anth_decode_model_fallback);
    TEST_ADD(test_anth_decode_nomem);

    for (i = 0; i < sizeof(test_anth_err) / sizeof(test_anth_err[0]); i++) {
        test_add(test_anth_err[i].name, test_anth_error, &test_anth_err[i]);
    }

    TEST_ADD(test_anth_error_long);
    TEST_ADD(test_anth_error_nomem);
}
