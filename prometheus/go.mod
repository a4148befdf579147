module github.com/tollgate/tollgate/prometheus

go 1.26.0

require github.com/tollgate/tollgate v0.0.0

require github.com/prometheus/client_golang v1.25.0 // indirect

replace github.com/tollgate/tollgate => ../
