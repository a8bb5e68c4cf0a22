package issuer

// messages are the pages' texts by language (pickLang chooses). Keys with
// %s are used with printf in the templates.
var messages = map[string]map[string]string{
	"en": {
		"title_login":          "Sign in",
		"title_consent":        "Allow access",
		"title_error":          "Sign-in error",
		"title_logout":         "Sign out",
		"sign_in":              "Sign in",
		"continue_to":          "to continue to %s",
		"username":             "Username",
		"password":             "Password",
		"submit_login":         "Sign in",
		"bad_credentials":      "The username or password is incorrect.",
		"throttled":            "Too many failed attempts. Please wait %s and try again.",
		"busy":                 "The server is busy. Please try again in a moment.",
		"csrf":                 "Your session on this page expired. Please try again.",
		"consent_title":        "Allow access?",
		"consent_lead":         "%s would like to:",
		"signed_in_as":         "Signed in as %s",
		"allow":                "Allow",
		"deny":                 "Deny",
		"consent_note":         "Your choice is remembered for this app and these permissions. Signing out does not withdraw it.",
		"error_title":          "Something went wrong",
		"error_client":         "The application that sent you here is not registered with this sign-in service, or it asked to return you to an address it did not register. For your safety you were not sent back. Please contact the application's owner.",
		"error_generic":        "The request could not be completed. Please go back to the application and try again.",
		"logout_title":         "Sign out",
		"logout_confirm":       "Do you want to sign out?",
		"logout_button":        "Sign out",
		"signed_out":           "You have signed out",
		"signed_out_lead":      "You can close this window.",
		"footer":               "Protected by authgate",
		"scope_openid":         "Sign you in with your account",
		"scope_profile":        "See your name and profile",
		"scope_email":          "See your e-mail address",
		"scope_offline_access": "Stay signed in when you are not using it",
	},
	"ja": {
		"title_login":          "ログイン",
		"title_consent":        "アクセスの許可",
		"title_error":          "ログインエラー",
		"title_logout":         "ログアウト",
		"sign_in":              "ログイン",
		"continue_to":          "%s にログインします",
		"username":             "ユーザー名",
		"password":             "パスワード",
		"submit_login":         "ログイン",
		"bad_credentials":      "ユーザー名またはパスワードが正しくありません。",
		"throttled":            "ログインの失敗が続いたため制限しています。%s 後にもう一度お試しください。",
		"busy":                 "サーバーが混み合っています。しばらくしてからもう一度お試しください。",
		"csrf":                 "このページの有効期限が切れました。もう一度お試しください。",
		"consent_title":        "アクセスを許可しますか？",
		"consent_lead":         "%s が次のアクセスを求めています:",
		"signed_in_as":         "%s としてログイン中",
		"allow":                "許可する",
		"deny":                 "拒否する",
		"consent_note":         "この選択は、このアプリとこれらの権限について記憶されます。ログアウトしても取り消されません。",
		"error_title":          "問題が発生しました",
		"error_client":         "このページに移動させたアプリケーションは登録されていないか、登録されていない戻り先を指定しています。安全のため、アプリケーションには戻りませんでした。アプリケーションの管理者にお問い合わせください。",
		"error_generic":        "リクエストを完了できませんでした。アプリケーションに戻って、もう一度お試しください。",
		"logout_title":         "ログアウト",
		"logout_confirm":       "ログアウトしますか？",
		"logout_button":        "ログアウト",
		"signed_out":           "ログアウトしました",
		"signed_out_lead":      "このウィンドウを閉じてかまいません。",
		"footer":               "authgate で保護されています",
		"scope_openid":         "あなたのアカウントでログインする",
		"scope_profile":        "名前とプロフィールの参照",
		"scope_email":          "メールアドレスの参照",
		"scope_offline_access": "利用していない間もログイン状態を保つ",
	},
}

// scopeDescription is what the consent page says for a scope: the
// operator's scope_description, else a built-in text for the standard
// scopes, else the scope itself.
func (i *Issuer) scopeDescription(scope, lang string) string {
	if d, ok := i.scopeDesc[scope]; ok {
		return d
	}
	if d, ok := messages[lang]["scope_"+scope]; ok {
		return d
	}
	return scope
}
