-- wrk: POST the body of the file named by the BODY environment variable,
-- with the extra headers in HEADERS ("Name: value|Name: value")
local f = assert(io.open(os.getenv("BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench"
for name, value in string.gmatch(os.getenv("HEADERS") or "",
                                 "([^:|]+):%s*([^|]*)") do
    wrk.headers[name] = value
end
