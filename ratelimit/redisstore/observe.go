package redisstore

// StoreName is the Store of the observe.StoreState events a Store reports.
const StoreName = "ratelimit/redisstore"
