/* generated from src/html/status.html by scripts/html2c.sh: do not edit */
static u_char  ngx_http_llm_status_html[] =
    "<!doctype html><title>llm status</title>\n";
