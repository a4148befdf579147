package middleware

// ObservedLayer names the layer of the verifier it wraps, for the observer
// (see ObservedLayer).
func (c *CachingVerifier) ObservedLayer(token string) string {
	return verifierLayer(c.next, token)
}
