-- wrk script: every request carries the next session cookie from a file (one `Cookie` header
-- value per line, as `bench_driver seed` writes them), so a run walks through many sessions.
-- Usage: wrk ... -s bench/cookies.lua URL -- FILE
dofile("bench/report.lua")

local threads = 0
setup = function(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local cookies = {}
local position = 0

init = function(args)
  for line in io.lines(args[1]) do
    cookies[#cookies + 1] = line
  end
  -- Threads start far apart so that they do not walk the same sessions in step.
  position = (id * 7919 * 13) % #cookies
end

request = function()
  position = position % #cookies + 1
  return wrk.format("GET", nil, { ["Cookie"] = cookies[position] })
end
