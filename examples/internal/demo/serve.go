package demo

import (
	"context"
	"log"
	"net/http"
	"time"
)

// ListenAndServe runs srv.ListenAndServe until ctx is done, then shuts srv
// down, giving the requests in flight 5 seconds. It returns the error of a
// server that stopped on its own; a failed shutdown is logged, not
// returned.
func ListenAndServe(ctx context.Context, srv *http.Server) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		log.Print(err)
	}
	return nil
}
