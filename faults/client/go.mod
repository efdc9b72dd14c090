module webhookd/faults/client

go 1.19
