listen = { { address = "127.0.0.1:0" } }
li, ten = { { address = "0.0.0.0:8080" } }
