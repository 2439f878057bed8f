// notification — e-mails to caseworkers from the notify-email queue (SMTP or a spool folder).
import NotificationService
import ServiceRuntime

await ServiceRuntime.main(serviceName: "notification", defaultPort: 8084) { runtime in
    try await NotificationService.makeServices(runtime)
}
