-- What Bangladesh shares, case by case.

case "no informal channel for routine queries" {
  request = { purpose = "investigation", priority = "routine", legal_basis = "informal",
              from = "MYS", subject = { name = "X" } },
  expect = { BGD = { effect = "deny", rule = "no informal channel for routine queries" } },
}

case "victim protection is always possible, addresses included" {
  request = { purpose = "victim_protection", priority = "urgent", legal_basis = "bilateral_mou",
              from = "MYS", subject = { name = "Rahima" } },
  records = { BGD = { { id = "BGD-P-1", type = "person", tags = { "victim" }, name = "Rahima Begum",
                        nationality = "BGD", address = "Cox's Bazar" } } },
  expect = { BGD = "allow" },
  expect_records = { BGD = { { id = "BGD-P-1", name = "Rahima Begum", address = "Cox's Bazar" } } },
}

case "prosecution under a treaty: addresses of Bangladeshi nationals are withheld" {
  request = { purpose = "prosecution", priority = "urgent", legal_basis = "mla_treaty",
              from = "THA", subject = { name = "Karim" } },
  records = { BGD = {
    { id = "BGD-P-2", type = "person", tags = { "suspect" }, name = "Abdul Karim", nationality = "BGD",
      address = "Teknaf" },
    { id = "BGD-P-3", type = "person", tags = { "suspect" }, name = "Kyaw Min", nationality = "MMR",
      address = "Ukhia camp" },
  } },
  expect = { BGD = "allow" },
  expect_records = { BGD = { { id = "BGD-P-2", address = REMOVED }, { id = "BGD-P-3", address = "Ukhia camp" } } },
}

case "MOU partners get a hit only" {
  request = { purpose = "investigation", priority = "urgent", legal_basis = "bilateral_mou",
              from = "IDN", subject = { name = "X" } },
  expect = { BGD = { effect = "hit_only", rule = "MOU partners: confirm a match only" } },
}

case "investigation under a treaty is denied by default" {
  request = { purpose = "investigation", priority = "urgent", legal_basis = "mla_treaty",
              from = "IDN", subject = { name = "X" } },
  expect = { BGD = { effect = "deny", rule = "default_deny", reason = "No rule of BGD allows this request." } },
}

local seven = {}
for i = 1, 7 do seven[i] = { id = "BGD-P-" .. (10 + i), type = "person", tags = { "victim" } } end

case "outside prosecution at most 5 records" {
  request = { purpose = "victim_protection", priority = "urgent", legal_basis = "consent",
              from = "MYS", subject = { name = "X" } },
  records = { BGD = seven },
  expect = { BGD = "allow" },
  expect_records = { BGD = { table.unpack(seven, 1, 5) } },
}

case "MOU partners: a formal investigation request after a hit gets the records" {
  request = { purpose = "investigation", priority = "urgent", legal_basis = "bilateral_mou", formal = true,
              from = "MYS", subject = { name = "X" } },
  expect = { BGD = { effect = "allow", rule = "MOU partners: formal requests after a hit" } },
}

case "MOU partners: the same search only confirms a match" {
  request = { purpose = "investigation", priority = "urgent", legal_basis = "bilateral_mou",
              from = "MYS", subject = { name = "X" } },
  expect = { BGD = { effect = "hit_only", rule = "MOU partners: confirm a match only" } },
}
