state "MYS" { name = "Malaysia", contact = { unit = "NCB", email = "x@y", channel = "i24/7" } }
local function urgent(q) return q.priority == "urgent" and q.subject.name ~= nil and q.subject.name:match("^(%a+)") == "Ahmad" end
deny "no fishing" { justification_shorter_than = 10, reason = "Say why." }
allow "urgent named" { when = urgent, purpose = { "prosecution", "investigation" }, unless = { from = "THA" } }
hit_only "others" { role = "analyst" }
redact "minors" { records = { tags = "minor" }, fields = { "name", "aliases" }, action = "initials" }
redact "hash docs" { fields = "documents", action = "hash" }
drop "sensitive" { records = { tags = "sensitive" }, when = function(q) return #q.justification < 200 end }
limit "ten" { max_records = 10 }
