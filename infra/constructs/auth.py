"""The Cognito user pool and its single app client, from SPEC.user_pool."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from infra.constructs.nag import acknowledge
from infra.resources import CognitoPool


class Auth(Construct):
    """Username sign-in (case-insensitive), self sign-up, e-mail verified by Cognito only in prod."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pool: CognitoPool,
        verify_email: bool,
        removal_policy: RemovalPolicy,
        email_sender: str | None = None,
        ses_region: str | None = None,
    ) -> None:
        """``email_sender``: a verified SES address (in ``ses_region``) Cognito sends sign-up and recovery
        mail from; None: Cognito's own sender, limited to 50 messages a day (dev)."""
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self,
            pool.logical_id,
            self_sign_up_enabled=True,
            sign_in_aliases=cognito.SignInAliases(username=True),
            sign_in_case_sensitive=False,
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            auto_verify=cognito.AutoVerifiedAttrs(email=True) if verify_email else None,
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            password_policy=cognito.PasswordPolicy(
                min_length=pool.password_min_length,
                require_lowercase=pool.require_lowercase,
                require_uppercase=pool.require_uppercase,
                require_digits=pool.require_digits,
                require_symbols=pool.require_symbols,
            ),
            deletion_protection=removal_policy == RemovalPolicy.RETAIN,
            removal_policy=removal_policy,
            # Lite: user-name and password sign-in, refresh tokens and their revocation are all this
            # service uses; Essentials ($0.015 per monthly active user above 10,000) adds managed login,
            # passwordless sign-in and refresh-token rotation, Plus ($0.02) threat protection.
            feature_plan=cognito.FeaturePlan.LITE,
            email=cognito.UserPoolEmail.with_ses(from_email=email_sender, ses_region=ses_region)
            if email_sender
            else None,
        )
        access_token = Duration.minutes(pool.access_token_minutes)
        self.client = self.user_pool.add_client(
            "Client",
            auth_flows=cognito.AuthFlow(user_password=True),
            generate_secret=False,
            disable_o_auth=True,  # API-only client: tokens come from InitiateAuth, no hosted UI
            prevent_user_existence_errors=True,
            access_token_validity=access_token,
            id_token_validity=access_token,
            # Refresh tokens live refresh_token_days and are not rotated (rotation needs the Essentials
            # plan and GetTokensFromRefreshToken); log-out revokes them (RevokeToken).
            refresh_token_validity=Duration.days(pool.refresh_token_days),
            enable_token_revocation=True,
            # Profiles live in DynamoDB behind the API: a client may write only what sign-up sends, so a
            # user cannot change other Cognito attributes behind the API's back (UpdateUserAttributes).
            write_attributes=cognito.ClientAttributes().with_standard_attributes(
                email=True, preferred_username=True
            ),
            read_attributes=cognito.ClientAttributes().with_standard_attributes(
                email=True, email_verified=True, preferred_username=True
            ),
        )
        acknowledge(
            self.user_pool,
            "AwsSolutions-COG2",
            "MFA is out of scope for the first release: sign-in is username/password (USER_PASSWORD_AUTH).",
        )
        acknowledge(
            self.user_pool,
            "AwsSolutions-COG8",
            "The Plus feature plan only adds threat protection, which this service does not buy yet.",
        )
