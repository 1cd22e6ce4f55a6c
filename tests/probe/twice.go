// A client as many Go programs are written: net/http's http.Get (its default client: no
// timeout, redirects followed up to 10, a keep-alive connection reused), the body on stdout
// whatever the status, exit 1 on an error. It GETs the URL twice, one after the other, as a
// program that fetches a list and then its first page would. Standard library only. Used by
// tests/probe_clients.rs.
//
//     go build -o twice twice.go && ./twice URL
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	for i := 0; i < 2; i++ {
		resp, err := http.Get(os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		_, err = io.Copy(os.Stdout, resp.Body)
		resp.Body.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
