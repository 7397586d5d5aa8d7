# The operator image; it also runs the health sidecar (`stellar-operator health`).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /stellar-operator ./cmd/stellar-operator

FROM gcr.io/distroless/static:nonroot
COPY --from=build /stellar-operator /stellar-operator
USER 65532:65532
ENTRYPOINT ["/stellar-operator"]
