module auth-shim.test/cluster/pause

go 1.24.0
