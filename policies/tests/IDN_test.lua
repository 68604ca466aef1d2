-- What Indonesia shares, case by case.

case "investigation under an MOU is shared; phones stay linkable, addresses stay home" {
  request = { purpose = "investigation", priority = "urgent", legal_basis = "bilateral_mou",
              from = "MYS", subject = { phone = "+6281234567890" } },
  records = { IDN = { { id = "IDN-P-1", type = "person", tags = { "suspect" }, name = "Budi Santoso",
                        phones = { "+6281234567890" }, address = "Jl. Pelabuhan 4, Kupang" } } },
  expect = { IDN = "allow" },
  -- the phone is replaced by its keyed hash (shown here with the test key)
  expect_records = { IDN = { { id = "IDN-P-1", name = "Budi Santoso", address = REMOVED,
    phones = { "475027bf4e3ee62420458657b3f0dabfdac8c33b4107faf8d40da96f0e44f45c" } } } },
}

case "prosecution under a treaty shares phones and addresses" {
  request = { purpose = "prosecution", priority = "routine", legal_basis = "mla_treaty",
              case_ref = "MY-2026-0042", from = "MYS", subject = { name = "Budi Santoso" } },
  records = { IDN = { { id = "IDN-P-1", type = "person", tags = { "suspect" }, name = "Budi Santoso",
                        phones = { "+6281234567890" }, address = "Jl. Pelabuhan 4, Kupang" } } },
  expect = { IDN = "allow" },
  expect_records = { IDN = { { id = "IDN-P-1", phones = { "+6281234567890" },
                               address = "Jl. Pelabuhan 4, Kupang" } } },
}

case "informal requests are refused unless a life is at risk" {
  request = { purpose = "investigation", priority = "urgent", legal_basis = "informal",
              from = "THA", subject = { name = "X" } },
  expect = { IDN = { effect = "deny", rule = "no informal requests except to save a life" } },
}

case "an informal request to save a life is shared and reviewed" {
  request = { purpose = "investigation", priority = "immediate", legal_basis = "informal",
              from = "THA", subject = { vessel = "KM Harapan" } },
  expect = { IDN = { effect = "allow", rule = "immediate risk to life, reviewed afterwards", review = true } },
}

case "urgent INTERPOL requests are answered; routine ones are not" {
  request = { purpose = "investigation", priority = "urgent", legal_basis = "interpol_channel",
              from = "BGD", subject = { document = "BD1234567" } },
  expect = { IDN = { effect = "allow", rule = "urgent police-to-police requests through INTERPOL" } },
}

case "a routine INTERPOL request is denied by default" {
  request = { purpose = "investigation", priority = "routine", legal_basis = "interpol_channel",
              from = "BGD", subject = { document = "BD1234567" } },
  expect = { IDN = { effect = "deny", rule = "default_deny" } },
}

case "intelligence requests get a hit only" {
  request = { purpose = "intelligence", priority = "routine", legal_basis = "mla_treaty",
              from = "MYS", subject = { name = "X" } },
  expect = { IDN = "hit_only" },
}

case "children's identities are hidden outside victim protection" {
  request = { purpose = "investigation", priority = "urgent", legal_basis = "mla_treaty",
              from = "MYS", subject = { name = "X" } },
  records = { IDN = { { id = "IDN-P-9", type = "person", tags = { "minor", "victim" },
                        name = "Dewi", aliases = { "Ade" }, dob = "2010-06-01" } } },
  expect = { IDN = "allow" },
  expect_records = { IDN = { { id = "IDN-P-9", name = "[REDACTED]", aliases = { "[REDACTED]" },
                               dob = "2010" } } },
}

local many = {}
for i = 1, 12 do many[i] = { id = "IDN-P-" .. i, type = "person" } end

case "routine queries get at most 10 records" {
  request = { purpose = "prosecution", priority = "routine", legal_basis = "mla_treaty",
              from = "MYS", subject = { name = "X" } },
  records = { IDN = many },
  expect = { IDN = "allow" },
  expect_records = { IDN = { table.unpack(many, 1, 10) } },
}
