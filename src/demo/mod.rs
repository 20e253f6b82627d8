//! Embedded demo deployment: zones × replicas behind a health-checking load balancer.
