-- wrk script: POST /feeds/hl7v2 with a new ADT^A01 (own MSH-10 and patient) on every request.
-- Usage: wrk -t2 -c32 -d20s --latency -s wrk-hl7.lua http://127.0.0.1:PORT -- RUNPREFIX
local threads = {}

function setup(thread)
    thread:set("tid", #threads + 1)
    table.insert(threads, thread)
end

function init(args)
    prefix = args[1] or "W"
    counter = 0
end

function request()
    counter = counter + 1
    local id = prefix .. "-" .. tid .. "-" .. counter
    local body = "MSH|^~\\&|BENCH|HOSP|LB|LB|20260101120000+0000||ADT^A01^ADT_A01|" .. id .. "|P|2.5.1\r"
        .. "EVN|A01|20260101120000+0000\r"
        .. "PID|1||" .. id .. "^^^HOSP^MR||Bench^Test^Q||19700101|F|||1 Main St^^Springfield^IL^62701||^PRN^PH^^^217^5550100\r"
        .. "PV1|1|I|W1^101^A||||||||||||||||V" .. id .. "^^^HOSP^VN\r"
    return wrk.format("POST", "/feeds/hl7v2", { ["Content-Type"] = "x-application/hl7-v2+er7" }, body)
end

function response(status, headers, body)
    if status ~= 200 then
        io.stderr:write("status " .. status .. "\n")
    end
end
