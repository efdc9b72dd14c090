module webhookd/bench/loadgen

go 1.19
