// A client as many Go programs are written, over HTTPS: net/http's default transport (HTTP/2
// by ALPN, no timeout), trusting the CA in $HTTPFAULT_CA, one GET, the body on stdout
// whatever the status, exit 1 on an error. Standard library only. Used by tests/probe_h2.rs.
//
//     go build -o h2get h2get.go && HTTPFAULT_CA=ca.pem ./h2get https://127.0.0.1:PORT
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	pool := x509.NewCertPool()
	if pem, err := os.ReadFile(os.Getenv("HTTPFAULT_CA")); err == nil {
		pool.AppendCertsFromPEM(pem)
	}
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
	}}
	resp, err := client.Get(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, resp.Proto)
	_, err = io.Copy(os.Stdout, resp.Body)
	resp.Body.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
