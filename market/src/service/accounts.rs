//! Accounts, passwords and API tokens.

use argon2::{
    Argon2,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
};
use base64::Engine;
use rand::RngCore;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};

use crate::{
    Context, Error, Result,
    entities::{api_token, user},
    types::{Password, Username},
};

/// Create a founding member's account (an admin if `admin`): a member of the co-op from the
/// start, with their share booked (`membership::found`). Fails with 409 if the username is
/// taken, 422 if the password is too easy to guess.
pub async fn create_user(
    ctx: &Context,
    username: &Username,
    password: &Password,
    admin: bool,
) -> Result<user::Model> {
    let role = if admin {
        user::ROLE_ADMIN
    } else {
        user::ROLE_MEMBER
    };
    create_account(ctx, username, password, role, None).await
}

/// Insert an account with `role`; members and admins are recorded as founders in the same
/// transaction. A password too easy to guess for this username and email is refused first
/// (422, [`Password::check_strength`]): the API, the register form and the CLI share the rule.
async fn create_account(
    ctx: &Context,
    username: &Username,
    password: &Password,
    role: &str,
    email: Option<String>,
) -> Result<user::Model> {
    // zxcvbn takes milliseconds (up to a few hundred on a long password in a debug build).
    let (checked, name, address) = (password.clone(), username.clone(), email.clone());
    tokio::task::spawn_blocking(move || checked.check_strength(name.as_str(), address.as_deref()))
        .await??;
    if find_user(ctx, username.as_str()).await?.is_some() {
        return Err(Error::Conflict(format!(
            "username {} is taken",
            username.as_str()
        )));
    }
    let password = password.clone();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password)).await??;
    let row = user::ActiveModel {
        username: Set(username.as_str().to_string()),
        password_hash: Set(hash),
        role: Set(role.to_string()),
        email: Set(email),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    };
    let txn = crate::db::begin_write(&ctx.db).await?;
    let user = row
        .insert(&txn)
        .await
        .map_err(|e| unique_to_conflict(e, "username is taken"))?;
    if user.is_member() {
        crate::service::membership::found(&txn, ctx, &user).await?;
    }
    txn.commit().await?;
    Ok(user)
}

/// Anyone registers as a buyer (who may then apply to join the co-op): a username, a password and, if they like, an email address.
/// Fails with 409 if the username is taken, 422 for a malformed email or a weak password.
pub async fn register_buyer(
    ctx: &Context,
    username: &Username,
    password: &Password,
    email: Option<&str>,
) -> Result<user::Model> {
    let email = email.map(parse_email).transpose()?;
    create_account(ctx, username, password, user::ROLE_BUYER, email).await
}

/// An email address as given at registration: trimmed, at most 254 characters, one `@` with
/// something on each side and a dot in the domain, no spaces or control characters. (Whether it
/// reaches anyone is not checked: nothing is sent to it yet.)
pub fn parse_email(email: &str) -> Result<String> {
    let email = email.trim();
    let invalid = || Error::invalid("email", "an address such as name@example.org");
    if email.is_empty() || email.len() > 254 {
        return Err(invalid());
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
    if local.is_empty()
        || local.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
    {
        return Err(invalid());
    }
    Ok(email.to_string())
}

/// Look an account up by username (case-insensitive, as usernames are stored lower-cased).
pub async fn find_user(ctx: &Context, username: &str) -> Result<Option<user::Model>> {
    find_user_on(&ctx.db, username).await
}

/// [`find_user`] on any connection, such as an open transaction.
///
/// A name that is not a valid [`Username`] (a NUL or other control character, a space, ...)
/// names no account: `None`, without asking the database (PostgreSQL cannot even compare a
/// string holding NUL). So logging in with such a name gets the usual 401 "wrong username or
/// password", and an admin path naming it a 404, on both backends.
pub async fn find_user_on<C: sea_orm::ConnectionTrait>(
    conn: &C,
    username: &str,
) -> Result<Option<user::Model>> {
    let Ok(username) = Username::parse(username) else {
        return Ok(None);
    };
    Ok(user::Entity::find()
        .filter(user::Column::Username.eq(username.as_str()))
        .one(conn)
        .await?)
}

/// Check a username and password. Both failures give the same 401, so a caller cannot learn
/// which usernames exist; a missing user still costs one hash, for the same reason.
pub async fn authenticate(ctx: &Context, username: &str, password: &str) -> Result<user::Model> {
    let user = find_user(ctx, username).await?;
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let password = password.to_string();
    let ok = tokio::task::spawn_blocking(move || match stored {
        Some(hash) => verify_password(&password, &hash),
        None => {
            // Same work as a real check, then refuse.
            let _ = Password::parse("not-a-real-password").map(|p| hash_password(&p));
            false
        }
    })
    .await?;
    match user {
        Some(user) if ok => Ok(user),
        _ => Err(Error::Unauthorized("wrong username or password".into())),
    }
}

/// Issue a new API token for `user`. The returned string is shown once; only its hash is kept.
pub async fn issue_token(ctx: &Context, user: &user::Model, label: &str) -> Result<String> {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    api_token::ActiveModel {
        user_id: Set(user.id),
        token_hash: Set(token_hash(&token)),
        label: Set(label.chars().take(64).collect()),
        created_at: Set(chrono::Utc::now()),
        last_used_at: Set(None),
        ..Default::default()
    }
    .insert(&ctx.db)
    .await?;
    Ok(token)
}

/// The label of the tokens behind web sessions (the login form); they expire when unused.
pub const SESSION_LABEL: &str = "web session";
/// A web session unused this long is over: the visitor logs in again.
pub const SESSION_IDLE_DAYS: i64 = 30;

/// The account a bearer token belongs to, or 401. A web session unused for
/// [`SESSION_IDLE_DAYS`] is deleted and refused; API tokens do not expire (they are revoked by
/// logging out). A token's last use is recorded at most once an hour.
pub async fn user_for_token(ctx: &Context, token: &str) -> Result<user::Model> {
    let found = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(token_hash(token)))
        .find_also_related(user::Entity)
        .one(&ctx.db)
        .await?;
    let Some((row, Some(user))) = found else {
        return Err(Error::Unauthorized("invalid or revoked token".into()));
    };
    let now = chrono::Utc::now();
    let last = row.last_used_at.unwrap_or(row.created_at);
    if row.label == SESSION_LABEL && now - last > chrono::Duration::days(SESSION_IDLE_DAYS) {
        api_token::Entity::delete_by_id(row.id)
            .exec(&ctx.db)
            .await?;
        return Err(Error::Unauthorized(
            "your session expired: log in again".into(),
        ));
    }
    if row
        .last_used_at
        .is_none_or(|t| now - t > chrono::Duration::hours(1))
    {
        api_token::Entity::update_many()
            .col_expr(
                api_token::Column::LastUsedAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .filter(api_token::Column::Id.eq(row.id))
            .exec(&ctx.db)
            .await?;
    }
    Ok(user)
}

/// Revoke a token (log out). Revoking an unknown token is not an error.
pub async fn revoke_token(ctx: &Context, token: &str) -> Result<()> {
    api_token::Entity::delete_many()
        .filter(api_token::Column::TokenHash.eq(token_hash(token)))
        .exec(&ctx.db)
        .await?;
    Ok(())
}

/// All accounts, oldest first.
pub async fn list_users(ctx: &Context) -> Result<Vec<user::Model>> {
    use sea_orm::QueryOrder;
    Ok(user::Entity::find()
        .order_by_asc(user::Column::Id)
        .all(&ctx.db)
        .await?)
}

fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// argon2id with the crate's default parameters (19 MiB, 2 passes), the OWASP baseline.
fn hash_password(password: &Password) -> Result<String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("password hashing: {e}")))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Turn a unique-key violation into a 409 with `message`; keep other errors.
pub(crate) fn unique_to_conflict(err: sea_orm::DbErr, message: &str) -> Error {
    Error::from_unique(err, message)
}

/// The key pair of a user's actor (`/users/{username}`), made on first use: a user who never
/// orders from another node never needs one. Two first uses at once keep the first key stored.
pub async fn user_keys(ctx: &Context, user_id: i32) -> Result<crate::entities::user_key::Model> {
    use crate::entities::user_key;
    if let Some(keys) = user_key::Entity::find_by_id(user_id).one(&ctx.db).await? {
        return Ok(keys);
    }
    let pair = tokio::task::spawn_blocking(crate::keys::generate).await??;
    let insert = user_key::Entity::insert(user_key::ActiveModel {
        user_id: Set(user_id),
        public_key_pem: Set(pair.public_key_pem),
        private_key_pem: Set(pair.private_key_pem),
        created_at: Set(chrono::Utc::now()),
    })
    .on_conflict(
        sea_orm::sea_query::OnConflict::column(user_key::Column::UserId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&ctx.db)
    .await;
    insert?;
    user_key::Entity::find_by_id(user_id)
        .one(&ctx.db)
        .await?
        .ok_or_else(|| Error::Internal("the user's key was just stored".into()))
}

/// The user whose actor id is `actor_id` (`https://our.domain/users/{username}`), if ours.
pub async fn find_by_actor(ctx: &Context, actor_id: &str) -> Result<Option<user::Model>> {
    let prefix = ctx.instance.url("/users/");
    match actor_id.strip_prefix(&prefix) {
        Some(name) if !name.is_empty() && !name.contains('/') => find_user(ctx, name).await,
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let hash = hash_password(&Password::parse("correct horse").unwrap()).unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("x", "not a hash"));
    }
}
